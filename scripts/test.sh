#!/usr/bin/env bash
# The test command: everything CI runs. Installs what the tests need (the Hadoop jars
# from Maven Central for the test HDFS, npm packages for the exporter fixtures check,
# pip packages for the read-back tests) and runs formatting, lints and every test.
# The HDFS tests start their own MiniDFSCluster; under CI=true they cannot be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "test HDFS: build the MiniDFSCluster launcher (Maven)"
scripts/minidfs.sh build

step "cargo test"
cargo test --workspace

step "fixtures: stock dexie-export-import importDB restores every record (npm)"
(
  cd testdata/exporter
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check
)

step "readback: pyarrow and DuckDB read the Parquet output (pip)"
scripts/python-env.sh
# `cargo test --workspace` above built target/debug/idbsync (the CLI tests run it); a
# separate `cargo build -p idbsync` would rebuild arrow with other unified features.
test -x "${CARGO_TARGET_DIR:-target}/debug/idbsync" || cargo build -p idbsync
# pytest exits 5 when it collects no test: that fails this step too (set -e).
IDBSYNC_BIN="${CARGO_TARGET_DIR:-target}/debug/idbsync" PYTHONDONTWRITEBYTECODE=1 \
  .venv/bin/python -m pytest -q tests/python
