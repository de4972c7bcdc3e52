#!/usr/bin/env bash
# The secret scanner's literal prefilter against Vectorscan on the strings the detector sees
# (docs/performance.md, "Secret scanning: Vectorscan against the hand-written prefilter").
# Needs a release build (swift build -c release --static-swift-stdlib) and libvectorscan-dev (Debian: apt-get install
# libvectorscan-dev). Runs one thing at a time; outputs go to WORKDIR (default /tmp/vs), never
# into the repository.
# usage: scripts/bench/secret-scan/run.sh [WORKDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=${1:-/tmp/vs}
bin=$root/.build/release/mcpsonar
[ -x "$bin" ] || { echo "no $bin: run swift build -c release --static-swift-stdlib first" >&2; exit 2; }
mkdir -p "$work"

cc -O2 -Wall -o "$work/vs_scan" "$here/vs_scan.c" -lhs
[ -f "$work/corpus-30MB.pcap" ] || "$bin" corpus --size 30MB --seed 1 -o "$work/corpus-30MB.pcap"
if [ ! -f "$work/events.json" ]; then
  "$bin" -r "$work/corpus-30MB.pcap" --payloads -o "$work/events.tmp" --workers 1
  mv "$work/events.tmp" "$work/events.json"
fi
python3 "$here/literals.py" "$root/rules/secrets.yml" > "$work/literals.txt"
python3 "$here/extract_strings.py" "$work/events.json" -o "$work/strings.bin"
python3 "$here/extract_strings.py" "$work/events.json" -o "$work/strings-secrets.bin" \
  --secrets "$root/Fixtures/detect/fake-secrets.json" --share 0.01 --seed 1

for input in strings strings-secrets; do
  echo "=== $input: vectorscan"
  "$work/vs_scan" "$work/literals.txt" "$work/$input.bin" 5 20 | tee "$work/$input.vs.txt"
  echo "=== $input: mcpsonar"
  "$bin" bench --secrets-strings "$work/$input.bin" | tee "$work/$input.swift.txt"
done
echo "=== the whole pipeline on the same corpus, default rules, for the share of the secret scan"
"$bin" bench -r "$work/corpus-30MB.pcap" --passes 1 | tee "$work/pipeline.txt"

python3 - "$work" <<'PY'
import re, sys
work = sys.argv[1]
num = r"([0-9.]+)"
print("\n| input | engine, stage | hits | CPU MB/s | CPU ns/string | wall MB/s |")
print("|---|---|---|---|---|---|")
for name in ("strings", "strings-secrets"):
    rows = []
    for line in open(f"{work}/{name}.vs.txt"):
        m = re.match(r"(per string|one block): (\d+) literal hits, wall [0-9.]+ s = " + num + r" MB/s, [0-9.]+ ns/string; cpu [0-9.]+ s = " + num + r" MB/s, " + num, line)
        if m: rows.append((f"Vectorscan, literals ({m[1]})", m[2], m[4], m[5], m[3]))
    for line in open(f"{work}/{name}.swift.txt"):
        m = re.match(r"(.+?): (\d+), wall [0-9.]+ s = " + num + r" MB/s, [0-9.]+ ns/string; cpu [0-9.]+ s = " + num + r" MB/s, " + num, line)
        if m: rows.append((f"SecretScanner, {m[1]}", m[2], m[4], m[5], m[3]))
    for r in rows: print(f"| {name} | " + " | ".join(r) + " |")
for line in open(f"{work}/strings.vs.txt"):
    if line.startswith("vectorscan"): print("\n" + line.strip())
PY
