#!/usr/bin/env bash
# SQL previews: idbsync query vs. DuckDB (Python) on the same Parquet files (see README.md):
# bench.sh query.
#
#   benches/compare/query-vs-duckdb.sh            # 1M orders, 5 runs per query and tool
#   benches/compare/query-vs-duckdb.sh --quick    # 200k orders
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" query "$@"
