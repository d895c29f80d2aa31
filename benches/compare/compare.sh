#!/usr/bin/env bash
# idbsync convert vs. DuckDB, Polars, pyarrow, json2parquet and Spark on the same NDJSON
# files (~100 MB, ~400 MB, ~1.6 GB) -> zstd Parquet, then SQL previews vs. DuckDB and HDFS
# uploads vs. Hadoop's FsShell -put, in one report (see README.md): bench.sh compare.
# Needs cargo, python3 and Java 17 (without Java: no Spark, no upload).
#
#   benches/compare/compare.sh              # 250k, 1M, 4M records, 3 runs each (< 20 min on 2 cores)
#   benches/compare/compare.sh --quick      # 250k records (~100 MB), 2 runs (< 3 min)
#   benches/compare/compare.sh --sizes 500000,2000000 --runs 5 --skip spark,put
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" compare "$@"
