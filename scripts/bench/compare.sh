#!/usr/bin/env bash
# Runs `mcpsonar bench` three times per binary, capture and rule setting (default rules, then
# --no-detect), printing the full reports; docs/performance.md takes the best of 3 by wall time.
# usage: scripts/bench/compare.sh "BINARY..." FILE...
#   e.g. scripts/bench/compare.sh "bench-out/mcpsonar-before .build/release/mcpsonar" \
#            bench-out/corpus-300MB.pcap bench-out/bulk-300MB.pcap
set -euo pipefail
binaries=$1; shift
for bin in $binaries; do
  for file in "$@"; do
    for rules in "" --no-detect; do
      for run in 1 2 3; do
        echo "=== $bin $file ${rules:-default} run $run"
        "$bin" bench -r "$file" --passes 1 $rules | grep -vE "^files|^$"
      done
    done
  done
done
