#!/usr/bin/env bash
# idbsync convert vs. DuckDB NDJSON -> zstd Parquet, side by side (see README.md).
# Builds the release binaries, sets up benches/.venv, then runs convert_vs_duckdb.py.
#
#   benches/compare/convert-vs-duckdb.sh            # 1M records (~394 MB NDJSON + Dexie), 5 runs each
#   benches/compare/convert-vs-duckdb.sh --quick    # 200k records
#   benches/compare/convert-vs-duckdb.sh --memory   # also a 4M-record NDJSON (~1.6 GB): peak RSS 4M vs 1M
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
"$here/setup-venv.sh"
exec "$root/benches/.venv/bin/python" "$here/convert_vs_duckdb.py" "$@"
