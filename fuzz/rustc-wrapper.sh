#!/usr/bin/env bash
# RUSTC_WRAPPER for the fuzz build (scripts/fuzz.sh sets it): idbsync's own crates
# (idbsync-*) get cargo-fuzz's coverage instrumentation; the dependencies (arrow,
# parquet, serde, …) are built as plain release code. libFuzzer then steers by our code
# alone and walks far fewer coverage counters after every exec (arrow and parquet were
# most of them), and the dependencies build in parallel codegen units instead of one.
# Panics anywhere, dependencies included, still count as crashes.
set -euo pipefail
rustc="$1"
shift
if [ -n "${IDBSYNC_FUZZ_INNER_WRAPPER:-}" ]; then
    set -- "$rustc" "$@"
    rustc="$IDBSYNC_FUZZ_INNER_WRAPPER"
fi
case "${CARGO_PKG_NAME:-}" in
    idbsync-*) exec "$rustc" "$@" ;;
esac
args=()
for a in "$@"; do
    case "$a" in
        -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | \
            -Cllvm-args=-simplifycfg-branch-fold-threshold=0 | -Ccodegen-units=1) ;;
        *) args+=("$a") ;;
    esac
done
exec "$rustc" "${args[@]}"
