#!/usr/bin/env bash
# The test command: everything CI runs. Installs what the tests need (npm packages
# for the exporter fixtures check) and runs formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace

step "fixtures: stock dexie-export-import importDB restores every record (npm)"
(
  cd testdata/exporter
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check
)
