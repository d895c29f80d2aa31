#!/usr/bin/env bash
# idbsync convert vs. DuckDB NDJSON -> zstd Parquet, side by side (see README.md): bench.sh convert.
#
#   benches/compare/convert-vs-duckdb.sh            # 1M records (~394 MB NDJSON + Dexie), 5 runs each
#   benches/compare/convert-vs-duckdb.sh --quick    # 200k records
#   benches/compare/convert-vs-duckdb.sh --memory   # also a 4M-record NDJSON (~1.6 GB): peak RSS 4M vs 1M
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" convert "$@"
