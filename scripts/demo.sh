#!/usr/bin/env bash
# The main job on the embedded default: builds idbsync and converts the bundled
# exports (testdata/fixtures) into zstd Parquet datasets in a local folder
# (./idbsync-demo-out), then shows one dataset's layout. Nothing to install or start.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p idbsync
bin="${CARGO_TARGET_DIR:-target}/release/idbsync"
"$bin" demo --out idbsync-demo-out
printf '\n$ idbsync infer testdata/fixtures/dexie-shop.json --explain\n'
"$bin" infer testdata/fixtures/dexie-shop.json --explain | tail -8
printf '\nlayout of idbsync-demo-out/dexie-shop/orders:\n'
(cd idbsync-demo-out/dexie-shop/orders && find . -maxdepth 2 | sort | head -12)
