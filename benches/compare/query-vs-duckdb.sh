#!/usr/bin/env bash
# SQL previews: idbsync query vs. DuckDB (Python) on the same Parquet files (see README.md).
# Builds the release binaries and benches/.venv, then runs query_vs_duckdb.py.
#
#   benches/compare/query-vs-duckdb.sh            # 1M orders, 5 runs per query and tool
#   benches/compare/query-vs-duckdb.sh --quick    # 200k orders
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
"$here/setup-venv.sh"
exec "$root/benches/.venv/bin/python" "$here/query_vs_duckdb.py" "$@"
