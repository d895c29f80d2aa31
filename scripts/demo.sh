#!/usr/bin/env bash
# The main job on the embedded default: builds idbsync and runs it over the bundled
# exports in testdata/fixtures (a local folder; nothing to install or start).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p idbsync
bin=target/release/idbsync
for f in testdata/fixtures/dexie-shop.json testdata/fixtures/orders.ndjson; do
  printf '\n$ idbsync infer %s --explain\n' "$f"
  "$bin" infer "$f" --explain
done
