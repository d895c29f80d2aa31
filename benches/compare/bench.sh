#!/usr/bin/env bash
# The comparisons of benches/compare, set up and run: bench.sh COMMAND [OPTIONS].
# Builds the release binaries (idbsync, idbsync-gen) and what COMMAND needs, then runs
# bench.py COMMAND (see README.md):
#
#   compare   every tool on the same NDJSON at three sizes, SQL previews, HDFS uploads:
#             benches/.venv (requirements.txt), json2parquet into benches/.tools, the test
#             HDFS launcher (Maven; without java/mvn: pass --skip spark,put)
#   infer     schema inference vs. a DuckDB conversion: benches/.venv
#   convert   the whole conversion vs. DuckDB: benches/.venv
#   shapes    the conversion vs. the DuckDB CLI on every generator shape: benches/.venv (duckdb-cli)
#   query     SQL previews vs. DuckDB: benches/.venv
#   put       uploads into HDFS vs. Hadoop's FsShell -put: the test HDFS launcher (system python3)
#   sync      idbsync push/pull vs. Spark + Delta MERGE INTO: .venv-spark (tests/spark/requirements.txt)
#             and the Delta jars from Maven (testdata/spark/pom.xml); bench.py on the system python3
#
#   benches/compare/bench.sh compare --quick     # = compare.sh --quick
#   benches/compare/bench.sh infer --help        # options only: builds nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="$root/benches/.venv/bin/python"
cmd="${1:-}"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        # Help only: no build, any python3 (bench.py needs only the standard library for it).
        py=python3
        [[ -x "$venv" ]] && py="$venv"
        exec "$py" "$here/bench.py" "$@"
    fi
done
case "$cmd" in
    compare | infer | convert | shapes | query | put | sync) ;;
    *)
        echo "usage: benches/compare/bench.sh {compare|infer|convert|shapes|query|put|sync} [OPTIONS] (--help: the options)" >&2
        exit 2
        ;;
esac

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
py="$venv"
case "$cmd" in
    put)
        scripts/minidfs.sh build
        py=python3
        ;;
    sync)
        # Spark + Delta as tests/spark uses them: their own venv, jars from Maven (not spark.jars.packages).
        scripts/python-env.sh "$root/.venv-spark" tests/spark/requirements.txt >&2
        if ! ls testdata/spark/target/jars/delta-spark_*.jar >/dev/null 2>&1; then
            mvn -B -q -f testdata/spark/pom.xml dependency:copy-dependencies >&2
        fi
        py=python3
        ;;
    compare)
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
        ;;
    *) "$here/setup-venv.sh" ;;
esac
exec "$py" "$here/bench.py" "$@"
