#!/usr/bin/env bash
# Rewrites Fixtures/expected/<capture>.events.jsonl: the sensor's exact output on each original
# capture. Run only after checking that a difference in the golden-file test is intended.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build
for f in Fixtures/*.pcap Fixtures/*.pcapng; do
    [ -e "$f" ] || continue
    name=$(basename "${f%.*}")
    .build/debug/mcpsonar -r "$f" > "Fixtures/expected/$name.events.jsonl"
    echo "wrote Fixtures/expected/$name.events.jsonl ($(wc -l < "Fixtures/expected/$name.events.jsonl") events)"
done
