#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on nightly) for SECONDS each (default 60)
# and prints the execs and the outcome of each. New inputs go to fuzz/work/<target>/
# (ignored by git); the committed seeds in fuzz/corpus/<target>/ are only read. A crash
# leaves its input in fuzz/artifacts/<target>/ and makes the script fail.
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 3600       # an hour per target
#   FUZZ_TARGETS="split infer" scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
targets="${FUZZ_TARGETS:-split typeson infer decode}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz build >/dev/null

mkdir -p fuzz/work
failed=0
summary=""
for t in $targets; do
    mkdir -p "fuzz/work/$t"
    log="fuzz/work/$t.log"
    echo "== $t: ${secs} s"
    status=0
    cargo +nightly fuzz run "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 -timeout=60 -detect_leaks=0 >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$status" -eq 0 ]; then
        result="ok"
    else
        failed=1
        result="FAILED (exit $status)"
        grep -E "panicked at|ERROR: |SUMMARY: |Test unit written to" "$log" | head -n 8 || true
    fi
    summary+="$(printf '%-8s %8s s %14s execs %10s exec/s  %s' "$t" "$secs" "${execs:-?}" "${rate:-?}" "$result")"$'\n'
done
echo
printf '%s' "$summary"
exit "$failed"
