#!/usr/bin/env bash
# idbsync infer vs. DuckDB NDJSON -> zstd Parquet, side by side (see README.md): bench.sh infer.
#
#   benches/compare/infer-vs-duckdb.sh            # 1M records (~394 MB), 5 runs each
#   benches/compare/infer-vs-duckdb.sh --quick    # 200k records
#   benches/compare/infer-vs-duckdb.sh --memory   # peak RSS on a 2 GB Dexie export
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" infer "$@"
