#!/usr/bin/env bash
# The test command: everything CI runs. Installs what the tests need (the Hadoop jars
# from Maven Central for the test HDFS and the delta-spark jars for Spark, npm packages
# for the exporter fixtures check, pip packages for the read-back tests) and runs
# formatting, lints and every test.
# The HDFS tests start their own MiniDFSCluster; under CI=true they cannot be skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "test HDFS: build the MiniDFSCluster launcher (Maven)"
scripts/minidfs.sh build

step "cargo test"
cargo test --workspace

step "fixtures: stock dexie-export-import importDB restores every record (npm)"
(
  cd testdata/exporter
  npm ci --no-audit --no-fund --loglevel=error
  npm run --silent check
)

step "download round trip: every Dexie fixture converted, downloaded --format dexie, imported by stock importInto (npm)"
# The debug binary that `cargo test --workspace` built: convert each fixture (as it is, and
# partitioned), download every table as a Dexie export, then check-download.mjs imports
# the original with importDB and each download with importInto (fake-indexeddb) and
# requires every record and key to be util.isDeepStrictEqual.
bin="${CARGO_TARGET_DIR:-target}/debug/idbsync"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
test -x "$bin" || cargo build -p idbsync
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pairs=()
for fixture in "$PWD"/testdata/fixtures/dexie-*.json; do
  name="$(basename "$fixture" .json)"
  case "$name" in
    dexie-alltags) parted=(--partition-by first) ;;
    dexie-shop) parted=(--partition-by 'day(created)' --partition-by status) ;;
    *) parted=() ;;
  esac
  tables="$(node -e 'for (const t of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).data.tables) console.log(t.name)' "$fixture")"
  for variant in plain partitioned; do
    out="$work/$name-$variant"
    if [ "$variant" = plain ]; then
      "$bin" convert "$fixture" --out "$out" -q > /dev/null
    elif [ "${#parted[@]}" -gt 0 ]; then
      "$bin" convert "$fixture" --out "$out" "${parted[@]}" -q > /dev/null
    else
      continue
    fi
    while IFS= read -r table; do
      "$bin" download "$out" --table "$table" --format dexie --to "$out.$table.json" -q
      pairs+=("$fixture=$out.$table.json")
    done <<< "$tables"
  done
done
(
  cd testdata/exporter
  npm run --silent check-download -- "${pairs[@]}"
)

step "property round trip: random IndexedDB databases and NDJSON through convert and download (npm, fast-check)"
# testdata/exporter/roundtrip.mjs (issue 14): fast-check generates random databases (every
# key type, every structured-clone type dexie-export-import carries, UTF-16 edge cases,
# edge numbers, colliding field names) and random NDJSON; each goes through the same $bin
# (convert plain and partitioned, download --format dexie / ndjson) and must come back
# util.isDeepStrictEqual under the stock importDB / importInto, or be rejected with a
# reason. Seeded: a failure prints the seed and path that replay it. ROUNDTRIP_SEED and
# ROUNDTRIP_RUNS (cases per mode) change it. `--exclude open` leaves out the failure
# classes of the findings still open in testdata/exporter/findings/findings.json (the one
# list; ROUNDTRIP_EXCLUDE=CLASS,... or =none replaces it).
(
  cd testdata/exporter
  npm run --silent roundtrip -- --idbsync "$bin" --seed "${ROUNDTRIP_SEED:-14}" --runs "${ROUNDTRIP_RUNS:-300}" \
    --exclude "${ROUNDTRIP_EXCLUDE:-open}"
)

step "round-trip findings: each minimal input the property round trip found, replayed (npm)"
# testdata/exporter/findings.mjs: every finding marked fixed in findings/findings.json must
# round trip (or give its expected rejects); every open one must still fail, so a fix that
# lands fails this step with "now passes: mark it fixed" until findings.json says so (and
# the step above then explores that class again).
(
  cd testdata/exporter
  npm run --silent findings -- --idbsync "$bin"
)

step "sync round trip: random batches pushed, pulled whole and --since into Dexie by stock importInto + bulkDelete (npm, fast-check)"
# testdata/exporter/sync.mjs (issue 17): fast-check generates batches of puts and deletes
# (two stores, an inbound and a compound key, Dates, nested objects, a field that adds a
# column) from two clients; each batch is exported by the stock exportDB and pushed with
# `$bin push --client C --batch N` (again: nothing applied; the client's previous batch:
# refused). After each push another fake-indexeddb database applies `pull --format dexie`
# (the whole table, then `--since` its last checkpoint) with the stock importInto
# {overwriteValues: true} and bulkDelete of the sidecar's deleted keys; its records and
# keys, and those of a whole-table pull into an empty database, must be
# util.isDeepStrictEqual to an in-memory model. SYNC_SEED and SYNC_RUNS change it.
(
  cd testdata/exporter
  npm run --silent sync -- --idbsync "$bin" --seed "${SYNC_SEED:-17}" --runs "${SYNC_RUNS:-25}"
)

step "browser round trip: headless Chromium, Dexie export -> convert -> query -> download -> importInto (npm, apt)"
# Debian's chromium, installed here when missing (as root, or with password-less sudo).
if ! command -v chromium > /dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends chromium
fi
(
  cd testdata/browser
  npm ci --no-audit --no-fund --loglevel=error
  node run.mjs --idbsync "$bin" --chromium "$(command -v chromium)"
)

step "JavaScript client: change tracking, batches, pulls, types; sync against idbsync serve (npm)"
# clients/js (issue 18): node's test runner over fake-indexeddb, fast-check seeded; the
# tests against a real `idbsync serve` ($bin on 127.0.0.1, a temporary root) run in Node
# and in headless Chromium (two browser contexts, CORS).
(
  cd clients/js
  npm ci --no-audit --no-fund --loglevel=error
  IDBSYNC_BIN="$bin" CHROMIUM="$(command -v chromium)" npm test
)

step "readback: pyarrow and DuckDB read the Parquet output (pip)"
scripts/python-env.sh
# `cargo test --workspace` above built target/debug/idbsync (the CLI tests run it); a
# separate `cargo build -p idbsync` would rebuild arrow with other unified features.
test -x "${CARGO_TARGET_DIR:-target}/debug/idbsync" || cargo build -p idbsync
# pytest exits 5 when it collects no test: that fails this step too (set -e).
IDBSYNC_BIN="${CARGO_TARGET_DIR:-target}/debug/idbsync" PYTHONDONTWRITEBYTECODE=1 \
  .venv/bin/python -m pytest -q tests/python

step "Spark reads what idbsync wrote: PySpark + delta-spark and Python deltalake read the synced Delta tables on the test HDFS (pip, Maven)"
# tests/spark (issue 17): starts a MiniDFSCluster (scripts/minidfs.sh start), pushes seeded
# batches with $bin to hdfs://127.0.0.1:PORT/... (two clients, inserts, updates, deletes,
# a column added later, a compound key, a repeated batch, --mirror), then PySpark 4.1 with
# delta-spark 4.2 reads the tables from the cluster (rows, count and group-by equal to a
# model of the records and to `idbsync pull`; DESCRIBE HISTORY one commit per push; the
# change data feed's inserts, updates and deletes per version, and from a checkpoint on
# as `pull --since` gives them), and so does the Python deltalake package. Its own venv
# (.venv-spark/, about 670 MB). delta-spark's jars come from Maven Central through
# testdata/spark/pom.xml (into testdata/spark/target/jars, passed as spark.jars): Spark's
# own Ivy download (spark.jars.packages) is not used (it fails on some machines where
# Maven works). No skipping under CI=true.
scripts/python-env.sh .venv-spark tests/spark/requirements.txt
rm -rf testdata/spark/target # no jars of another Delta version left from an earlier run
mvn -B -q -f testdata/spark/pom.xml dependency:copy-dependencies
IDBSYNC_BIN="$bin" PYTHONDONTWRITEBYTECODE=1 .venv-spark/bin/python -m pytest -q tests/spark

step "fuzzing: each fuzz target for ${FUZZ_SECONDS:-40} s (cargo-fuzz on the pinned nightly)"
# scripts/fuzz.sh installs the pinned nightly (rustup) and cargo-fuzz when missing, builds
# into $CARGO_TARGET_DIR/fuzz when that is set, starts from the committed seeds in
# fuzz/corpus/ and keeps what it finds in this run's temp dir. A crash fails the step and
# prints the reproducer's path (kept in fuzz/artifacts/) and the command that replays it.
FUZZ_WORK="$work/fuzz" scripts/fuzz.sh "${FUZZ_SECONDS:-40}"
