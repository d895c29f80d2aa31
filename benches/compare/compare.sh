#!/usr/bin/env bash
# idbsync convert vs. DuckDB, Polars, pyarrow, json2parquet and Spark on the same NDJSON
# files (~100 MB, ~400 MB, ~1.6 GB) -> zstd Parquet (see README.md). Builds the release
# binaries, sets up benches/.venv (requirements.txt), installs json2parquet into
# benches/.tools when missing, builds the test HDFS launcher (Maven), then runs
# compare.py: the conversions, then SQL previews vs. DuckDB and HDFS uploads vs. Hadoop's
# FsShell -put. Needs cargo, python3 and Java 17 (without Java: no Spark, no upload).
#
#   benches/compare/compare.sh              # 250k, 1M, 4M records, 3 runs each (< 20 min on 2 cores)
#   benches/compare/compare.sh --quick      # 250k records (~100 MB), 2 runs (< 3 min)
#   benches/compare/compare.sh --sizes 500000,2000000 --runs 5 --skip spark,put
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
"$here/setup-venv.sh"
if [[ ! -x "$root/benches/.tools/bin/json2parquet" ]]; then
    echo "compare: installing json2parquet into benches/.tools (once)" >&2
    cargo install json2parquet --locked --quiet --root "$root/benches/.tools"
fi
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
    [[ -s testdata/minidfs/java/target/classpath.txt ]] || scripts/minidfs.sh build >&2
else
    echo "compare: no java/mvn on PATH: Spark and the HDFS upload need Java 17 (or pass --skip spark,put)" >&2
fi
exec "$root/benches/.venv/bin/python" "$here/compare.py" "$@"
