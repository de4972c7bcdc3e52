#!/usr/bin/env bash
# Interleaved A/B benchmark for a noisy machine: each round runs `mcpsonar bench` once per binary
# and worker count, the binaries in a rotated order, so drift in the machine's speed falls on all
# of them alike. Prints each run, then per worker count and binary the median and best pipeline
# time, the floor share and peak memory, the first binary's time over each other's pair by pair
# (median and range: above 1 means the other is faster), and two workers against one.
# usage: scripts/bench/interleave.sh ROUNDS FILE BINARY...
#   e.g. scripts/bench/interleave.sh 6 bench-out/corpus-300MB.pcap bench-out/mcpsonar-before .build/release/mcpsonar
#   WORKERS="1 2" (the default) chooses the worker counts; PASSES (default 1) the passes over FILE
#   per run (a small file read several times, e.g. PASSES=3 with corpus-30MB, gave the tightest
#   medians on a noisy machine); BENCH_ARGS adds options (e.g. --no-detect). CPU time of all
#   threads is compared too: it drifts less than wall time when cores are shared.
set -euo pipefail
rounds=$1; file=$2; shift 2
binaries=("$@")
[ ${#binaries[@]} -ge 1 ] || { echo "usage: $0 ROUNDS FILE BINARY..." >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
n=${#binaries[@]}
for round in $(seq "$rounds"); do
  for workers in ${WORKERS:-1 2}; do
    for k in $(seq 0 $((n - 1))); do
      bin=${binaries[$(( (k + round) % n ))]}
      report=$("$bin" bench -r "$file" --passes "${PASSES:-1}" --workers "$workers" ${BENCH_ARGS:-})
      seconds=$(sed -n 's/^mcpsonar pipeline:.*(\(.*\) s)$/\1/p' <<<"$report")
      floor=$(sed -n 's/^libpcap read floor: \([0-9.]*\) MB\/s.*/\1/p' <<<"$report")
      mbps=$(sed -n 's/^mcpsonar pipeline: *\([0-9.]*\) MB\/s.*/\1/p' <<<"$report")
      rss=$(sed -n 's/^peak resident memory: \([0-9.]*\) MiB/\1/p' <<<"$report")
      cpu=$(sed -n 's/^CPU time (all threads): pipeline \([0-9.]*\) s.*/\1/p' <<<"$report")
      echo "$round $workers $bin $seconds $mbps $floor $rss $cpu" | tee -a "$out"
    done
  done
done
python3 - "$out" "${binaries[@]}" <<'PY'
import sys, statistics as st, collections
runs = collections.defaultdict(dict)  # (round, workers) -> binary -> (seconds, MB/s, floor MB/s, MiB, CPU s)
for line in open(sys.argv[1]):
    r, w, b, s, m, f, rss, cpu = line.split()
    runs[(r, w)][b] = (float(s), float(m), float(f), float(rss), float(cpu))
names = sys.argv[2:]
for w in sorted({w for _, w in runs}, key=int):
    keys = [k for k in runs if k[1] == w]
    print(f"-- {w} worker{'s' if w != '1' else ''}, {len(keys)} rounds")
    for b in names:
        v = [runs[k][b] for k in keys]
        share = [100 * x[1] / x[2] for x in v]
        print(f"{b}: median {st.median(x[0] for x in v):.3f} s, best {min(x[0] for x in v):.3f} s, "
              f"{min(share):.1f}-{max(share):.1f} % of the floor, {min(x[3] for x in v):.1f}-{max(x[3] for x in v):.1f} MiB")
        if b != names[0]:
            ratio = [runs[k][names[0]][0] / runs[k][b][0] for k in keys]
            cpu = [runs[k][names[0]][4] / runs[k][b][4] for k in keys]
            print(f"   {names[0]} / {b} pair by pair: median {st.median(ratio):.3f} ({min(ratio):.3f}-{max(ratio):.3f}), "
                  f"CPU time {st.median(cpu):.3f}")
for b in names:
    scale = [runs[(r, '1')][b][0] / runs[(r, '2')][b][0] for (r, w) in runs if w == '1' and (r, '2') in runs]
    if scale:
        print(f"{b}: two workers against one, median {st.median(scale):.2f}x ({min(scale):.2f}-{max(scale):.2f})")
PY
