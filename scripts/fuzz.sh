#!/usr/bin/env bash
# Fuzzing with libFuzzer (docs/fuzzing.md).
#
#   scripts/fuzz.sh TARGET SECONDS [--asan]     one target (decoder reassembly http sse websocket json rules capture)
#   scripts/fuzz.sh all SECONDS [--asan]        each target in turn, SECONDS each
#   scripts/fuzz.sh build [--asan]              only build
#
# Builds the one fuzz executable (`sonar-fuzz`, -sanitize=fuzzer, plus address with --asan) in
# .build-fuzz or .build-asan, seeds Fuzz/corpus/TARGET from the fixtures (scripts/fuzz_seed.py)
# and the committed Fuzz/seeds and Fuzz/regressions, runs one libFuzzer process (never more) for
# SECONDS, writes crashes/timeouts/OOMs to Fuzz/findings/TARGET/ and the log to Fuzz/logs/, and
# prints executions per second, total executions, coverage and corpus size.
# Extra libFuzzer flags can be given in FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS="decoder reassembly http sse websocket json rules capture"
max_len() {
    case "$1" in
        decoder|reassembly|sse|rules) echo 8192 ;;
        http|websocket|json) echo 16384 ;;
        capture) echo 65536 ;;
        *) echo "unknown target: $1 (one of: $TARGETS)" >&2; exit 2 ;;
    esac
}

target="${1:-}"; shift || true
seconds=60
if [[ "$target" != "build" ]]; then seconds="${1:-60}"; shift || true; fi
asan=0
for a in "$@"; do [[ "$a" == "--asan" ]] && asan=1; done
if [[ -z "$target" ]]; then sed -n '2,14p' "$0"; exit 2; fi

if [[ $asan == 1 ]]; then
    scratch=.build-asan
    sanitize=(--sanitize=fuzzer --sanitize=address)
else
    scratch=.build-fuzz
    sanitize=(--sanitize=fuzzer)
fi

build() {
    echo "== building sonar-fuzz in $scratch (${sanitize[*]})"
    swift build -c release -j 1 --scratch-path "$scratch" "${sanitize[@]}" \
        -Xswiftc -DSONAR_LIBFUZZER --product sonar-fuzz
}
build
bin="$scratch/release/sonar-fuzz"
[[ "$target" == "build" ]] && exit 0

run() {
    local t="$1" len; len=$(max_len "$t")
    local corpus="Fuzz/corpus/$t" findings="Fuzz/findings/$t" log
    mkdir -p "$corpus" "$findings" Fuzz/logs
    log="Fuzz/logs/$t-$(date +%Y%m%d-%H%M%S)$([[ $asan == 1 ]] && echo -asan).log"
    if [[ -z "$(ls -A "$corpus")" ]]; then
        python3 scripts/fuzz_seed.py Fuzz/corpus --target "$t"
    fi
    for d in "Fuzz/seeds/$t" "Fuzz/regressions/$t"; do
        [[ -d "$d" ]] && cp -n "$d"/* "$corpus"/ 2>/dev/null || true
    done
    local dict=()
    [[ -f "Fuzz/dicts/$t.dict" ]] && dict=(-dict="Fuzz/dicts/$t.dict")
    echo "== fuzzing $t for ${seconds}s (max_len $len) → $log"
    set +e
    # Leak checking is off: the Swift runtime's metadata caches are never freed by design.
    # The Swift runtime's own backtracer is off so that a trap reaches libFuzzer's handler at once.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}" SONAR_FUZZ_TARGET="$t" \
        "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len="$len" -timeout=10 \
        -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" ${FUZZ_FLAGS:-} \
        "$corpus" >"$log" 2>&1
    local rc=$?
    set -e
    summarize "$t" "$log" "$rc"
}

summarize() {
    local t="$1" log="$2" rc="$3"
    local execs rate last cov ft corp rss slow
    execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log" | tail -1)
    rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log" | tail -1)
    rss=$(awk '/^stat::peak_rss_mb:/ {print $2}' "$log" | tail -1)
    slow=$(awk '/^stat::slowest_unit_time_sec:/ {print $2}' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    local found; found=$(ls -A "Fuzz/findings/$t" 2>/dev/null | wc -l)
    printf 'RESULT target=%s rc=%s exec/s=%s total_execs=%s cov=%s ft=%s corpus=%s peak_rss_mb=%s slowest_s=%s findings=%s log=%s\n' \
        "$t" "$rc" "${rate:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}" "${slow:-?}" "$found" "$log"
}

if [[ "$target" == "all" ]]; then
    for t in $TARGETS; do run "$t"; done
else
    max_len "$target" >/dev/null
    run "$target"
fi
