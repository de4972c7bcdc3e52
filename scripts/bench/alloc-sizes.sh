#!/usr/bin/env bash
# The objects the sensor makes on FILE, by type and size, most frequent first: a uprobe on
# swift_allocObject records each call's type metadata and size (`perf probe`, root), and the
# metadata addresses are named from the binary's symbols. Types whose metadata the runtime makes
# (generic instantiations such as arrays of a struct) print as "(runtime metadata)". What
# docs/performance.md ("Twenty-sixth round") used to find the per-connection objects and their
# jemalloc classes.
# usage: scripts/bench/alloc-sizes.sh BINARY FILE [LINES]
#   e.g. scripts/bench/alloc-sizes.sh .build/release/mcpsonar bench-out/corpus-3MB.pcap 40
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BINARY FILE [LINES]" >&2; exit 2; }
bin=$(readlink -f "$1"); file=$2; lines=${3:-40}
command -v perf > /dev/null || { echo "$0: perf is not installed" >&2; exit 2; }
work=$(mktemp -d)
group=sonaralloc
cleanup() { perf probe -q -d "$group:*" > /dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
perf probe -q -d "$group:*" > /dev/null 2>&1 || true
perf probe -q -x "$bin" "$group:alloc=swift_allocObject md=%di:u64 size=%si:u64"
perf record -q -o "$work/data" -e "$group:alloc" "$bin" -r "$file" -o /dev/null > /dev/null 2>&1
perf script -i "$work/data" --show-mmap-events > "$work/script" 2> /dev/null
nm "$bin" > "$work/nm"
python3 - "$work/script" "$work/nm" "$bin" "$lines" <<'PY'
import bisect, collections, re, subprocess, sys
script, nmfile, binary, lines = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = None
counts = collections.Counter()
for line in open(script):
    if base is None and "PERF_RECORD_MMAP" in line and binary in line and "r-xp" in line:
        base = int(re.search(r"\[(0x[0-9a-f]+)\(", line).group(1), 16)
    m = re.search(r"md=(\d+) size=(\d+)", line)
    if m:
        counts[(int(m.group(1)), int(m.group(2)))] += 1
if base is None:
    sys.exit("no mapping of the binary in the recording")
symbols = []
for line in open(nmfile):
    parts = line.split()
    if len(parts) == 3:
        try:
            symbols.append((int(parts[0], 16), parts[2]))
        except ValueError:
            pass
symbols.sort()
addresses = [a for a, _ in symbols]
names = {}
def name(md):
    if md not in names:
        i = bisect.bisect_right(addresses, md - base) - 1
        symbol = symbols[i][1] if i >= 0 else "?"
        if symbol in ("_end", "?") or not symbol.startswith("$s"):
            names[md] = "(runtime metadata)"
        else:
            out = subprocess.run(["swift", "demangle", "--compact", symbol], capture_output=True, text=True).stdout
            names[md] = out.strip().replace("full type metadata for ", "").replace("type metadata for ", "")
    return names[md]
print(f"{'count':>8} {'bytes':>7}  type")
for (md, size), n in counts.most_common(lines):
    print(f"{n:>8} {size:>7}  {name(md)}")
PY
