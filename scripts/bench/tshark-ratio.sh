#!/usr/bin/env bash
# The issue's comparison with tshark, as docs/performance.md measures it: each round runs tshark
# pulling the JSON and WebSocket frames out of FILE, then `mcpsonar bench` on the same file with
# one worker and with two, one after another, so that the machine's drift falls on all three.
# Prints each round, then the medians, tshark over one worker (and two) by the medians and run by
# run, and two workers against one. tshark's time is the wall time of the whole command (reading
# the file included); mcpsonar's is the pipeline's, as `bench` reports it. The libpcap read floor
# of the one-worker run is printed too, with tshark's time over it: the issue takes tshark to be
# about 70 times the floor, which decides how its two targets (20x tshark, 25 % of the floor)
# stand to each other on the machine at hand.
# usage: scripts/bench/tshark-ratio.sh ROUNDS FILE BINARY
#   e.g. scripts/bench/tshark-ratio.sh 8 bench-out/corpus-300MB.pcap .build/release/mcpsonar
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 ROUNDS FILE BINARY" >&2; exit 2; }
rounds=$1; file=$2; bin=$3
command -v tshark > /dev/null || { echo "$0: tshark is not installed (apt-get install -y tshark)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Prints the pipeline's seconds, then the floor's.
pipeline() {
  "$bin" bench -r "$file" --passes 1 --workers "$1" \
    | sed -n -e 's/^mcpsonar pipeline:.*(\(.*\) s)$/pipeline \1/p' -e 's/^libpcap read floor:.*(\(.*\) s)$/floor \1/p' \
    | sort | awk '{print $2}' | tr '\n' ' '
}
for round in $(seq "$rounds"); do
  start=$(date +%s.%N)
  tshark -r "$file" -Y "json || websocket" -T fields -e frame.number > /dev/null 2>&1
  end=$(date +%s.%N)
  tshark_s=$(python3 -c "print(f'{$end - $start:.3f}')")
  read -r floor one <<< "$(pipeline 1)"
  read -r _ two <<< "$(pipeline 2)"
  [ -n "$one" ] && [ -n "$two" ] && [ -n "$floor" ] || { echo "$0: no pipeline or floor time in the bench report" >&2; exit 1; }
  echo "$round $tshark_s $one $two $floor" | tee -a "$out"
done
python3 - "$out" <<'PY'
import sys, statistics as st
rows = [tuple(map(float, line.split()[1:])) for line in open(sys.argv[1])]
t, one, two, floor = ([r[i] for r in rows] for i in range(4))
print(f"-- {len(rows)} rounds")
print(f"tshark: median {st.median(t):.2f} s ({min(t):.2f}-{max(t):.2f})")
print(f"one worker: median {st.median(one):.3f} s ({min(one):.3f}-{max(one):.3f})")
print(f"two workers: median {st.median(two):.3f} s ({min(two):.3f}-{max(two):.3f})")
by_run = [a / b for a, b in zip(t, one)]
print(f"tshark / one worker: {st.median(t) / st.median(one):.1f}x by the medians, "
      f"{min(by_run):.1f}x-{max(by_run):.1f}x run by run")
print(f"tshark / two workers: {st.median(t) / st.median(two):.1f}x by the medians")
print(f"libpcap read floor (one-worker runs): median {st.median(floor):.3f} s ({min(floor):.3f}-{max(floor):.3f})")
print(f"tshark / floor: {st.median(t) / st.median(floor):.0f}x by the medians; "
      f"20x tshark is {100 * 20 * st.median(floor) / st.median(t):.1f} % of the floor, 25 % of the floor is "
      f"{st.median(t) / (4 * st.median(floor)):.0f}x tshark")
print(f"one worker: {100 * st.median(floor) / st.median(one):.1f} % of the floor by the medians")
scale = [a / b for a, b in zip(one, two)]
print(f"two workers against one: median {st.median(scale):.2f}x ({min(scale):.2f}-{max(scale):.2f})")
PY
