#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz on a pinned nightly) for SECONDS each
# (default 60) and prints the execs, exec/s and outcome of each. Installs the pinned
# nightly (rustup) and cargo-fuzz when they are missing. New inputs go to
# $FUZZ_WORK/<target>/ (default fuzz/work, ignored by git); the committed seeds in
# fuzz/corpus/<target>/ are only read. A crash leaves its input in
# fuzz/artifacts/<target>/, is printed with the command that replays it, and makes the
# script fail.
#
# The targets are built without a sanitizer (-s none: the crates are safe Rust, and
# ASan made every exec several times slower) but with debug assertions and overflow
# checks (fuzz/Cargo.toml), so panics, overflows and assertions still count as crashes;
# only idbsync's own crates carry coverage instrumentation (fuzz/rustc-wrapper.sh).
# A stack overflow is a reported crash with a saved input too (fuzz_targets/overflow.rs);
# the script checks that before fuzzing. Run under a smaller stack (`ulimit -s 1024`)
# to find inputs that need a lot of it.
#
#   scripts/fuzz.sh                          # 60 s per target
#   scripts/fuzz.sh 3600                     # an hour per target
#   FUZZ_TARGETS="split infer" scripts/fuzz.sh 600
#   FUZZ_FORK=2 scripts/fuzz.sh 1800         # two fuzzing processes per target
#
# With CARGO_TARGET_DIR set (.ci/run sets it to a cache), the fuzz build goes to its
# fuzz/ subdirectory, apart from the main workspace's artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
targets="${FUZZ_TARGETS:-split typeson infer decode}"
work="${FUZZ_WORK:-fuzz/work}"
toolchain="${FUZZ_TOOLCHAIN:-nightly-2026-05-20}"
cargo_fuzz_version="0.13.2"
sanitizer="${FUZZ_SANITIZER:-none}"
fork="${FUZZ_FORK:-0}"

if ! rustup toolchain list | grep -q "^$toolchain"; then
    rustup toolchain install "$toolchain" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi
installed="$(cargo fuzz --version)"
case "$installed" in
    *" $cargo_fuzz_version") ;;
    *) echo "note: $installed installed; these scripts are tested with cargo-fuzz $cargo_fuzz_version" >&2 ;;
esac
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/fuzz"
fi
# Coverage instrumentation for idbsync's crates only (see the wrapper).
export IDBSYNC_FUZZ_INNER_WRAPPER="${RUSTC_WRAPPER:-}"
export RUSTC_WRAPPER="$PWD/fuzz/rustc-wrapper.sh"

fuzz=(cargo "+$toolchain" fuzz)
build_flags=(--sanitizer "$sanitizer")
"${fuzz[@]}" build "${build_flags[@]}" >/dev/null

# A stack overflow must be a reported crash with a saved input, not a bare SIGSEGV
# (fuzz_targets/overflow.rs): replay a record nested 500 levels deep with a 64 KiB stack.
host="$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')"
decode_bin="${CARGO_TARGET_DIR:-fuzz/target}/$host/release/decode"
deep="$(mktemp)"
{ printf '\003'; printf '{"a":%.0s' $(seq 500); printf '1'; printf '}%.0s' $(seq 500); } >"$deep"
overflow="$( (ulimit -s 64; "$decode_bin" -runs=1 "$deep" 2>&1) || true)"
rm -f "$deep"
if ! grep -q "ERROR: libFuzzer: deadly signal" <<<"$overflow"; then
    echo "fuzz: a stack overflow in the decode target was not reported by libFuzzer:" >&2
    tail -n 5 <<<"$overflow" >&2
    exit 1
fi

dict="$PWD/fuzz/json.dict"
mkdir -p "$work"
failed=0
summary=""
for t in $targets; do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    echo "== $t: ${secs} s"
    extra=()
    if [ "$fork" -gt 0 ]; then
        extra=(-fork="$fork" -ignore_crashes=0)
    fi
    status=0
    "${fuzz[@]}" run "${build_flags[@]}" "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 -timeout=60 \
        -dict="$dict" "${extra[@]}" >"$log" 2>&1 || status=$?
    # Single process: the final stats. Fork mode: the last status line.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ -z "$execs" ]; then
        execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' "$log" | tail -n 1)
        rate=$(sed -n 's/^#[0-9]*:.* exec\/s: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    fi
    corpus=$(find "$work/$t" -type f | wc -l)
    if [ "$status" -eq 0 ]; then
        result="ok"
    else
        failed=1
        result="FAILED (exit $status, log $log)"
        { grep -E -A3 "panicked at" "$log" | grep -v "^stack backtrace" | head -n 8; grep -E "ERROR: |SUMMARY: " "$log" | head -n 4; } || true
        sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | sort -u | while read -r unit; do
            echo "reproducer: $unit"
            echo "  replay:   cargo +$toolchain fuzz run --sanitizer $sanitizer $t $unit"
        done
    fi
    summary+="$(printf '%-8s %6s s %12s execs %8s exec/s %7s in corpus  %s' \
        "$t" "$secs" "${execs:-?}" "${rate:-?}" "$corpus" "$result")"$'\n'
done
echo
printf '%s' "$summary"
exit "$failed"
