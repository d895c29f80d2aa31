#!/usr/bin/env bash
# idbsync infer vs. DuckDB NDJSON -> zstd Parquet, side by side (see README.md).
# Builds the release binaries, sets up benches/.venv, then runs infer_vs_duckdb.py.
#
#   benches/compare/infer-vs-duckdb.sh            # 1M records (~394 MB), 5 runs each
#   benches/compare/infer-vs-duckdb.sh --quick    # 200k records
#   benches/compare/infer-vs-duckdb.sh --memory   # peak RSS on a 2 GB Dexie export
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
"$here/setup-venv.sh"
exec "$root/benches/.venv/bin/python" "$here/infer_vs_duckdb.py" "$@"
