"""idbsync push / pull vs. Spark + Delta `MERGE INTO` (issue 17).

`bench.py sync` (benches/compare/bench.sh sync sets up the Spark venv and the Delta jars
first). A synced `orders` table of N generated records (`idbsync-gen`, seed 42; 1M by
default, 100k with --quick) is made once with `idbsync push` of the whole file (key `id`),
and an equal Delta table with Spark (`spark.read.json(FILE).write.format("delta")`, change
data feed on, as idbsync's). Then, for each batch size (0.1%, 1%, 10% of N: upserts = 90%
updates of existing orders + 10% new ones, plus deletes = a tenth of the upserts), three
rows alternate run by run, each run starting from a fresh copy of the base table (copied
outside the timing):

* `idbsync push BATCH ROOT --key id --store orders --client bench --batch 1 --json`;
* Spark `MERGE INTO delta.`TABLE` t USING batch s ON t.id = s.id` (delete when
  `s._deleted`, update when matched, insert when not) in a fresh local[*] Spark process:
  the MERGE statement alone (timed inside the process) and the whole process (JVM start-up
  included; wall, CPU and peak RSS of the JVM);
* `idbsync convert` of the whole updated data (what a sync without MERGE would redo).

Each push and MERGE is checked: idbsync's --json summary and Spark's MERGE metrics must
count exactly the batch's updates, inserts and deletes. Then `idbsync pull --since` of each
batch's changes vs. a pull of the whole table. See benches/compare/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness import (
    DATA,
    RESULTS,
    ROOT,
    Case,
    Run,
    Session,
    add_common_args,
    check_inputs,
    count_lines,
    fmt_s,
    generate,
    measure,
    progress,
    rel,
    resolve_records,
    resolve_runs,
    rounds,
    sh,
    warm,
)

HELP = "idbsync push/pull vs. Spark + Delta MERGE INTO (sync-vs-spark)"
DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 100_000
DEFAULT_BATCHES = "0.1,1,10"  # percent of the table
INSERT_SHARE = 0.1  # of the upserts: new keys; the rest update existing rows
DELETE_SHARE = 0.1  # deletes per upsert (1% of 1M: 10,000 upserts + 1,000 deletes)
PUSH_RSS_BUDGET_MIB = 256
PUSH_VS_MERGE_GOAL = 0.5
SPARK_DRIVER_MEMORY = "4g"
SPARK_PY = ROOT / ".venv-spark" / "bin" / "python"
SPARK_JARS = ROOT / "testdata" / "spark" / "target" / "jars"
STORE = "orders"

# The Spark child: one local[*] session with Delta (jars from Maven, spark.jars), in a
# fresh process. MODE create: SRC (NDJSON) -> a new Delta table (change data feed on);
# MODE merge: MERGE INTO the table USING SRC (read with the table's schema + `_deleted`).
# It prints {"inner_s": seconds of the write / MERGE statement, "metrics": {...}} on its
# stdout; Spark's and the JVM's log go to LOG. It waits for the JVM, so the JVM's CPU time
# and peak RSS are in this process's RUSAGE_CHILDREN (as compare.py's Spark child).
SPARK_CHILD = r"""
import json, os, sys, time
mode, jars, table, src, mem, log = sys.argv[1:7]
out = os.fdopen(os.dup(1), "w")
err = os.fdopen(os.dup(2), "w")
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
from pyspark import SparkContext
from pyspark.sql import SparkSession
code, spark = 0, None
work = os.path.dirname(os.path.abspath(log))
try:
    spark = (SparkSession.builder.master("local[*]").appName("idbsync-sync-bench")
             .config("spark.jars", jars)
             .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
             .config("spark.driver.memory", mem)
             .config("spark.local.dir", os.path.join(work, "spark-local"))
             .config("spark.sql.warehouse.dir", os.path.join(work, "spark-warehouse"))
             .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.databricks.delta.properties.defaults.enableChangeDataFeed", "true")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    if mode == "create":
        t0 = time.perf_counter()
        spark.read.json(src).write.format("delta").save(table)
        inner = time.perf_counter() - t0
        metrics = {"rows": spark.read.format("delta").load(table).count()}
    elif mode == "merge":
        from pyspark.sql.types import BooleanType, StructField, StructType
        tgt = spark.read.format("delta").load(table)
        cols, schema = tgt.columns, StructType(list(tgt.schema.fields))
        with_deleted = StructType(list(schema.fields) + [StructField("_deleted", BooleanType())])
        spark.read.schema(with_deleted).json(src).createOrReplaceTempView("batch")
        q = lambda c: "`" + c.replace("`", "``") + "`"
        sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in cols)
        names = ", ".join(q(c) for c in cols)
        vals = ", ".join(f"s.{q(c)}" for c in cols)
        sql = (f"MERGE INTO delta.`{table}` t USING batch s ON t.id = s.id "
               "WHEN MATCHED AND s._deleted THEN DELETE "
               f"WHEN MATCHED THEN UPDATE SET {sets} "
               f"WHEN NOT MATCHED AND NOT coalesce(s._deleted, false) THEN INSERT ({names}) VALUES ({vals})")
        # Warm-up: the same MERGE of the batch's first 100 records into an empty table of the
        # same schema, so that the timed MERGE runs in a warm session (JIT, planner, Delta's
        # code paths), as in a long-running Spark service.
        t0 = time.perf_counter()
        small = os.path.join(work, "spark-warmup")
        spark.createDataFrame([], schema).write.format("delta").mode("overwrite").save(small)
        spark.read.schema(with_deleted).json(src).limit(100).createOrReplaceTempView("warm")
        spark.sql(sql.replace(f"delta.`{table}`", f"delta.`{small}`").replace("USING batch s", "USING warm s")).collect()
        warmup = time.perf_counter() - t0
        t0 = time.perf_counter()
        rows = spark.sql(sql).collect()
        inner = time.perf_counter() - t0
        metrics = rows[0].asDict() if rows else {}
        metrics["warmup_s"] = warmup
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"inner_s": inner, "metrics": metrics}), file=out, flush=True)
except Exception as e:
    msg, je = "", getattr(e, "java_exception", None)
    try:
        while je is not None and je.getCause() is not None:
            je = je.getCause()
        msg = je.toString() if je is not None else ""
    except Exception:
        pass
    msg = (msg or str(e)).strip().splitlines() or [type(e).__name__]
    print(f"{type(e).__name__}: {msg[0]}", file=err, flush=True)
    code = 3
finally:
    proc = getattr(SparkContext._gateway, "proc", None)
    try:
        spark is not None and spark.stop()
    except Exception:
        pass
    if proc is not None:
        try:
            proc.stdin.close()
            proc.wait(timeout=60)
        except Exception:
            proc.kill()
            proc.wait()
sys.exit(code)
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=(DEFAULT_RECORDS, QUICK_RECORDS), runs="runs per row (default 3; --quick: 2)",
        out="benches/results/<date>-sync[-quick].md", records_help="records in the synced table",
    )
    p.add_argument(
        "--batches", default=DEFAULT_BATCHES,
        help=f"batch sizes in percent of the table, comma-separated (default {DEFAULT_BATCHES})",
    )
    p.add_argument("--skip", default="", help="comma-separated: spark, convert, pull (rows to leave out)")
    p.add_argument("--spark-python", type=Path, default=SPARK_PY,
                   help="Python with pyspark + delta-spark (default .venv-spark, tests/spark/requirements.txt)")
    p.add_argument("--spark-jars", type=Path, default=SPARK_JARS,
                   help="folder with the delta-spark and delta-storage jars (default testdata/spark/target/jars)")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per run (default 1200)")
    p.add_argument("--keep", action="store_true", help="keep the generated batches, tables and updated files")


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    resolve_runs(p, args, 2 if args.quick else 3)
    check_inputs(p, args, need_duckdb=False)
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    bad = args.skip - {"spark", "convert", "pull"}
    if bad:
        p.error(f"--skip: unknown {', '.join(sorted(bad))}")
    try:
        args.batch_pcts = [float(x) for x in args.batches.split(",") if x.strip()]
    except ValueError:
        p.error("--batches: numbers (percent), comma-separated")
    if not args.batch_pcts or any(not 0 < x <= 50 for x in args.batch_pcts):
        p.error("--batches: each between 0 and 50 (percent)")
    if "spark" not in args.skip:
        if not os.access(args.spark_python, os.X_OK):
            p.error(f"{args.spark_python} not found: scripts/python-env.sh .venv-spark tests/spark/requirements.txt")
        jars = sorted(args.spark_jars.glob("*.jar")) if args.spark_jars.is_dir() else []
        if len(jars) != 2:
            p.error(f"expected the delta-spark and delta-storage jars in {args.spark_jars}: "
                    "mvn -B -q -f testdata/spark/pom.xml dependency:copy-dependencies")
        args.jars = jars


# ---------------------------------------------------------------------------------------
# Batches


@dataclass
class Batch:
    pct: float
    path: Path  # the batch (NDJSON: upserts as whole records, deletes as {"id", "_deleted": true})
    after: Path  # the whole table after the batch (NDJSON), for `idbsync convert`
    updates: int
    inserts: int
    deletes: int

    @property
    def upserts(self) -> int:
        return self.updates + self.inserts

    @property
    def label(self) -> str:
        return f"{self.pct:g}%"

    def what(self) -> str:
        return f"{self.upserts:,} upserts ({self.updates:,} updates + {self.inserts:,} new) + {self.deletes:,} deletes"


ID_RE = re.compile(rb'^\{"id":(\d+)[,}]')


def line_id(line: bytes) -> int:
    m = ID_RE.match(line)
    return int(m.group(1)) if m else int(json.loads(line)["id"])


def make_batch(base: Path, records: int, pct: float, folder: Path) -> Batch:
    """The batch of `pct`% of `records` (deterministic, seeded by the size) and the whole
    updated data; both written only when missing."""
    upserts = max(1, round(records * pct / 100))
    inserts = max(1, round(upserts * INSERT_SHARE))
    updates = upserts - inserts
    deletes = max(1, round(upserts * DELETE_SHARE))
    tag = f"{pct:g}".replace(".", "_")
    b = Batch(pct, folder / f"batch-{tag}pct.ndjson", folder / f"after-{tag}pct.ndjson", updates, inserts, deletes)
    if b.path.exists() and b.after.exists():
        print(f"using existing {rel(b.path)} and {rel(b.after)}", file=sys.stderr)
        return b
    print(f"making the {b.label} batch ({b.what()}) and the updated table ...", file=sys.stderr)
    rng = random.Random(f"sync-{records}-{pct:g}")
    picked = rng.sample(range(1, records + 1), updates + deletes)
    upd, dele = set(picked[:updates]), set(picked[updates:])
    donors = set(rng.sample(range(1, records + 1), inserts))
    out_lines: list[bytes] = []
    donor_recs: list[dict] = []
    tmp = b.after.with_name(b.after.name + ".partial")
    seen = 0
    with open(base, "rb") as r, open(tmp, "wb") as w:
        for line in r:
            if not line.strip():
                continue
            seen += 1
            k = line_id(line)
            if k in donors:
                donor_recs.append(json.loads(line))
            if k in dele:
                out_lines.append(json.dumps({"id": k, "_deleted": True}, separators=(",", ":")).encode() + b"\n")
                continue
            if k in upd:
                rec = json.loads(line)
                rec["status"] = f"updated-{tag}"
                if isinstance(rec.get("total"), (int, float)):
                    rec["total"] = round(rec["total"] + 1.0, 2)
                line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
                out_lines.append(line)
            w.write(line)
        if seen != records:
            raise SystemExit(f"{rel(base)} has {seen:,} records, expected {records:,}: delete it and rerun")
        for i, rec in enumerate(donor_recs):
            rec = dict(rec, id=records + 1 + i, status=f"inserted-{tag}")
            line = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
            out_lines.append(line)
            w.write(line)
    rng.shuffle(out_lines)
    with open(b.path.with_name(b.path.name + ".partial"), "wb") as w:
        w.writelines(out_lines)
    b.path.with_name(b.path.name + ".partial").rename(b.path)
    tmp.rename(b.after)
    return b


# ---------------------------------------------------------------------------------------
# Helpers


def tree_bytes(p: Path) -> tuple[int, int]:
    """(bytes, data files) of a table folder (data files = *.parquet outside _delta_log)."""
    total = files = 0
    for f in p.rglob("*"):
        if f.is_file():
            total += f.stat().st_size
            if f.suffix == ".parquet" and "_delta_log" not in f.parts and "_change_data" not in f.parts:
                files += 1
    return total, files


def fresh(p: Path) -> None:
    if p.is_dir():
        shutil.rmtree(p)
    elif p.exists():
        p.unlink()


def copy_table(src: Path, dst: Path) -> None:
    fresh(dst)
    shutil.copytree(src, dst)


def json_tail(out: str) -> dict | None:
    """The last JSON document of a stdout: a pretty-printed --json summary or a one-line report."""
    s = out.strip()
    for start in [i for i, ch in enumerate(s) if ch == "{" and (i == 0 or s[i - 1] == "\n")]:
        try:
            return json.loads(s[start:])
        except ValueError:
            continue
    return None


def push_counts(out: str) -> tuple[int, int, int] | None:
    d = json_tail(out)
    if not d or not d.get("tables"):
        return None
    t = d["tables"][0]
    return int(t["upserted"]), int(t["deleted"]), int(t["checkpoint"])


class Row(Case):
    """A measured row with its checks (per run: ok or what differed)."""

    def __init__(self, key: str, tool: str, what: str, file: Path, argv: list[str], batch: Batch | None = None):
        super().__init__(key, tool, what, file, argv)
        self.batch = batch
        self.checks: list[str] = []

    def check_cell(self) -> str:
        if not self.checks:
            return "—"
        bad = [c for c in self.checks if c != "ok"]
        return "ok" if not bad else f"**{len(bad)}/{len(self.checks)}: {bad[0]}**"

    def inner_cell(self) -> str:
        return fmt_s(self.median_inner())

    def warm_cell(self) -> str:
        vals = [(json_tail(r.out) or {}).get("metrics", {}).get("warmup_s") for r in self.ok_runs()]
        vals = [v for v in vals if v is not None]
        return fmt_s(statistics.median(vals)) if vals else "—"


def spark_versions(py: Path, jars: list[Path]) -> str:
    v = sh([str(py), "-c", "import pyspark, importlib.metadata as m; print(pyspark.__version__, m.version('delta-spark'))"])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return f"pyspark {v.split()[0] if v != '?' else '?'} + delta-spark {v.split()[-1] if v != '?' else '?'} " \
           f"(jars {', '.join(sorted(j.name for j in jars))}) on {java[0].strip() if java else 'java ?'}"



# ---------------------------------------------------------------------------------------
# The run


def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path, bool]:
    records = resolve_records(args, DEFAULT_RECORDS, QUICK_RECORDS)
    spark_on = "spark" not in args.skip
    base = DATA / f"orders-{records}.ndjson"
    generate(gen, base, ["--records", str(records), "--format", "ndjson"])
    have = count_lines(base)
    if have != records:
        raise SystemExit(f"{rel(base)} has {have:,} lines, expected {records:,}: delete it and rerun")
    folder = DATA / f"sync-{records}"
    folder.mkdir(parents=True, exist_ok=True)
    batches = [make_batch(base, records, pct, folder) for pct in args.batch_pcts]
    warm([base] + [b.path for b in batches] + [b.after for b in batches])

    work = Path(tempfile.mkdtemp(prefix="sync-work-", dir=DATA))
    idb_base = work / "idb-base"  # push ROOT; the table is ROOT/orders
    spark_base = work / "spark-base" / STORE
    idb_root = work / "idb"  # each run's copy
    spark_table = work / "spark" / STORE
    conv_out = work / "convert-out"
    spark_log = work / "spark.log"
    jar_files: list[Path] = getattr(args, "jars", [])
    jars = ",".join(str(j) for j in jar_files)

    def spark_argv(mode: str, table: Path, src: Path) -> list[str]:
        return [str(args.spark_python), "-c", SPARK_CHILD, mode, jars, str(table), str(src), SPARK_DRIVER_MEMORY,
                str(spark_log)]

    session = Session(idbsync, origin, duckdb=False)
    started = session.started
    ok_all = True
    first: dict[str, Row] = {}
    rows: list[Row] = []
    pulls: list[Row] = []
    base_version = None
    pulled_tables: dict[float, Path] = {}
    interrupted = False
    try:
        # --- the first version: the whole file (one run each) --------------------------------
        fp = Row("first_push", "idbsync", "`idbsync push FILE ROOT --key id --store orders`", base,
                 [str(idbsync), "push", str(base), str(idb_base), "--key", "id", "--store", STORE, "--json"])
        r = measure(fp.argv, timeout=args.timeout)
        fp.runs.append(r)
        c = push_counts(r.out) if r.ok else None
        fp.checks.append("ok" if c and c[0] == records else f"upserted {c and c[0]} ≠ {records}")
        base_version = c[2] if c else None
        progress(0, 1, fp.key, r, f"checkpoint {base_version}")
        first["push"] = fp
        if not r.ok:
            raise SystemExit(f"the first push failed: {r.error}")
        if spark_on:
            sc = Row("first_spark", "spark", "Spark `spark.read.json(FILE).write.format(\"delta\")`", base,
                     spark_argv("create", spark_base, base))
            r = measure(sc.argv, timeout=args.timeout)
            sc.runs.append(r)
            d = json_tail(r.out) if r.ok else None
            n = (d or {}).get("metrics", {}).get("rows")
            sc.checks.append("ok" if n == records else f"rows {n} ≠ {records}")
            progress(0, 1, sc.key, r, f"{n} rows")
            first["spark"] = sc
            if not r.ok:
                shutil.copy(spark_log, DATA / "sync-spark-create.log")
                print(f"Spark failed ({r.error}); its log: {rel(DATA / 'sync-spark-create.log')}; going on without it",
                      file=sys.stderr)
                spark_on = False
        sizes = {"idbsync": tree_bytes(idb_base / STORE)}
        if spark_on:
            sizes["spark"] = tree_bytes(spark_base)

        try:
            # --- the batches ---------------------------------------------------------------------
            for b in batches:
                push = Row(f"push_{b.label}", "idbsync", "`idbsync push`", b.path,
                           [str(idbsync), "push", str(b.path), str(idb_root), "--key", "id", "--store", STORE,
                            "--client", "bench", "--batch", "1", "--json"], b)
                group = [push]
                if spark_on:
                    group.append(Row(f"merge_{b.label}", "spark", "Spark `MERGE INTO`", b.path,
                                     spark_argv("merge", spark_table, b.path), b))
                if "convert" not in args.skip:
                    group.append(Row(f"convert_{b.label}", "convert", "`idbsync convert` of the whole updated data",
                                     b.after, [str(idbsync), "convert", str(b.after), "--out", str(conv_out), "-q"], b))
                rows += group
                for i, row in rounds(args.runs, group, swap=True):
                    # the same starting state for every run, copied outside the timing
                    fresh(conv_out)
                    if row.tool == "idbsync":
                        fresh(idb_root)
                        idb_root.mkdir()
                        copy_table(idb_base / STORE, idb_root / STORE)
                    elif row.tool == "spark":
                        fresh(spark_table.parent)
                        spark_table.parent.mkdir()
                        copy_table(spark_base, spark_table)
                    r = measure(row.argv, timeout=args.timeout)
                    row.runs.append(r)
                    note = ""
                    if row.tool == "idbsync":
                        c = push_counts(r.out) if r.ok else None
                        want = (b.upserts, b.deletes)
                        verdict = "ok" if c and c[:2] == want else f"upserted/deleted {c and c[:2]} ≠ {want}"
                        note = f"upserted {c[0]:,} deleted {c[1]:,} " if c else ""
                        row.checks.append(verdict)
                        if r.ok and c:
                            # keep the last pushed table for the pulls
                            keep = work / f"pulled-{b.label}"
                            fresh(keep)
                            shutil.move(str(idb_root), keep)
                            pulled_tables[b.pct] = keep
                    elif row.tool == "spark":
                        d = json_tail(r.out) if r.ok else None
                        m = (d or {}).get("metrics", {})
                        got = (m.get("num_updated_rows"), m.get("num_inserted_rows"), m.get("num_deleted_rows"))
                        want3 = (b.updates, b.inserts, b.deletes)
                        row.checks.append("ok" if got == want3 else f"updated/inserted/deleted {got} ≠ {want3}")
                        note = f"MERGE {r.inner:.2f} s " if r.inner is not None else ""
                        if not r.ok:
                            shutil.copy(spark_log, DATA / f"sync-spark-merge-{b.label}.log")
                    elif row.tool == "convert" and r.ok:
                        n = sum(1 for _ in conv_out.rglob("*.parquet")) if conv_out.exists() else 0
                        row.checks.append("ok" if n else "no Parquet written")
                    if row.checks and row.checks[-1] != "ok":
                        ok_all = False
                        note += f"CHECK: {row.checks[-1]} "
                    progress(i, args.runs, row.key, r, note)
                fresh(conv_out)
                fresh(spark_table.parent)

            # --- pulls -----------------------------------------------------------------------------
            pull_out = work / "pull.ndjson"
            if "pull" not in args.skip and pulled_tables and base_version is not None:
                for b in batches:
                    if b.pct in pulled_tables:
                        pulls.append(Row(f"pull_since_{b.label}", "pull", f"`pull --since {base_version}` ({b.label} batch)",
                                         b.path, [str(idbsync), "pull", str(pulled_tables[b.pct]), "--table", STORE,
                                                  "--since", str(base_version), "--to", str(pull_out), "--json"], b))
                # the whole table: after the 1% batch when there is one, else after the first batch pulled
                pick = next((b for b in batches if b.pct == 1.0 and b.pct in pulled_tables), None) or \
                    next(b for b in batches if b.pct in pulled_tables)
                pulls.append(Row("pull_all", "pull", f"`pull` of the whole table (after the {pick.label} batch)",
                                 pick.path, [str(idbsync), "pull", str(pulled_tables[pick.pct]), "--table", STORE,
                                             "--to", str(pull_out), "--json"], pick))
                for row in pulls:
                    row.lines: list[int] = []  # type: ignore[attr-defined]
                    row.bytes: list[int] = []  # type: ignore[attr-defined]
                for i, row in rounds(args.runs, pulls, swap=True):
                    fresh(pull_out)
                    r = measure(row.argv, timeout=args.timeout)
                    row.runs.append(r)
                    b = row.batch
                    if r.ok and pull_out.exists():
                        n = count_lines(pull_out)
                        row.lines.append(n)  # type: ignore[attr-defined]
                        row.bytes.append(pull_out.stat().st_size)  # type: ignore[attr-defined]
                        want = (b.upserts + b.deletes + 1) if row.key != "pull_all" else (records + b.inserts - b.deletes + 1)
                        row.checks.append("ok" if n == want else f"{n:,} lines ≠ {want:,}")
                    else:
                        row.checks.append("no output")
                    if row.checks[-1] != "ok":
                        ok_all = False
                    progress(i, args.runs, row.key, r, row.checks[-1] + " ")
                fresh(pull_out)
        except KeyboardInterrupt:
            # Ctrl-C: stop measuring and report what was measured (the report says so).
            interrupted = True
            print("interrupted: reporting what was measured", file=sys.stderr)
    finally:
        if args.keep:
            print(f"kept {rel(work)}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
            for b in batches:
                b.after.unlink(missing_ok=True)  # ~ the input's size each; the batches are small
    session.end(" (other work shares the machine)")
    session.header.append(f"- {spark_versions(args.spark_python, jar_files)}" if spark_on or "spark" in first else
                          "- Spark: not measured")

    measured = {r.batch.pct for r in rows if r.runs}
    batches = sorted((b for b in batches if b.pct in measured), key=lambda b: b.pct)
    rows = sorted((r for r in rows if r.runs), key=lambda r: r.batch.pct)  # stable: push, MERGE, convert
    pulls = sorted(pulls, key=lambda r: (r.key == "pull_all", r.batch.pct))
    # --- the report ----------------------------------------------------------------------------
    size = base.stat().st_size
    cmd = "benches/compare/bench.sh sync" + (" --quick" if args.quick else "") + \
        (f" --records {args.records}" if args.records else "") + \
        (f" --runs {args.runs}" if args.runs_given else "") + \
        (f" --batches {args.batches}" if args.batches != DEFAULT_BATCHES else "") + \
        (f" --skip {','.join(sorted(args.skip))}" if args.skip else "")
    L = [
        f"# idbsync push / pull vs. Spark + Delta MERGE INTO — {started:%Y-%m-%d}",
        "",
        f"Generated by `{cmd}` at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *session.header,
        *(["- **interrupted** (Ctrl-C): only the rows below were measured; runs per row may be fewer than asked."]
          if interrupted else []),
        f"- table: `idbsync-gen --records {records} --format ndjson` ({size / 1e6:.0f} MB, {records:,} orders, "
        "key `id`), pushed whole into a new table: "
        + ", ".join(f"{k}: {v[0] / 1e6:.0f} MB in {v[1]} data file{'s' if v[1] != 1 else ''}" for k, v in sizes.items())
        + " (Spark's own table of the same file, `spark.read.json` schema; both with the change data feed on).",
        "- batches (NDJSON, shuffled, seeded): upserts are whole records, 90% updates of existing orders (`status`, "
        "`total` changed) and 10% new ids (copies of existing orders); deletes are `{\"id\": K, \"_deleted\": true}` "
        "of other existing orders: "
        + "; ".join(f"{b.label}: {b.what()} ({b.path.stat().st_size / 1e6:.1f} MB)" for b in batches) + ".",
        f"- {args.runs} runs per row, rows alternating run by run (every other round reversed); every run starts "
        "from a fresh copy of the base table (copied before the timing). Median wall and CPU (user+sys of the "
        "process and its children, the JVM included) over the successful runs; peak RSS = max `ru_maxrss` over "
        "the runs (the largest single process: the JVM for Spark).",
        "- `idbsync push BATCH ROOT --key id --store orders --client bench --batch 1 --json` (all cores); its "
        "summary must count exactly the batch's upserts and deletes.",
        f"- Spark: a fresh `local[*]` process (driver {SPARK_DRIVER_MEMORY}, Spark defaults otherwise, AQE on): the "
        "batch read with the table's schema + `_deleted`, then `MERGE INTO delta.`T` t USING batch s ON t.id = s.id "
        "WHEN MATCHED AND s._deleted THEN DELETE WHEN MATCHED THEN UPDATE SET <every column> WHEN NOT MATCHED AND NOT "
        "coalesce(s._deleted, false) THEN INSERT …`. **MERGE alone** = that statement, timed inside the process in a "
        "warm session: before it the same MERGE of the batch's first 100 records into an empty table warms the JIT "
        "and Delta's code paths (as in a long-running Spark service; start-up, warm-up and the schema read excluded). "
        "**whole process** = the whole child: JVM start-up, warm-up and MERGE (what a one-shot `spark-submit` per "
        "batch would cost, a little more for the warm-up). Its MERGE metrics must count exactly the batch's "
        "updates, inserts and deletes.",
        "- `idbsync convert AFTER --out DIR -q`: the whole table after the batch, as NDJSON, converted again "
        "(Parquet; what re-exporting everything instead of syncing costs).",
        "",
        "## First version (one run each)",
        "",
        "| what | wall | CPU | peak RSS | check |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in first.values():
        inner = f" (write {fmt_s(row.median_inner())})" if row.tool == "spark" and row.median_inner() else ""
        res = row.failure() or row.check_cell()
        L.append(f"| {row.what} | {row.wall_cell()}{inner} | {fmt_s(row.median_cpu())} | {row.max_rss_mib():.0f} MiB "
                 f"| {res} |")

    L += [
        "",
        "## Batches: push vs. Spark MERGE vs. a whole re-conversion",
        "",
        "| batch | what | wall (median) | CPU (median) | peak RSS | MERGE alone (median) | warm-up (median) | runs | check |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        what = row.what + (" — whole process" if row.tool == "spark" else "")
        res = row.failure()
        L.append(f"| {row.batch.label} | {what} | {row.wall_cell()} | {fmt_s(row.median_cpu())} | "
                 f"{row.max_rss_mib():.0f} MiB | {row.inner_cell() if row.tool == 'spark' else '—'} | {row.warm_cell()} | "
                 f"{len(row.ok_runs())}/{len(row.runs)} | {(res + '; ') if res else ''}{row.check_cell()} |")
    by = {r.key: r for r in rows}

    def ratio(a: float | None, b: float | None) -> str:
        return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"

    L += [
        "",
        "Ratios (idbsync push / the other, median wall; lower is better for idbsync). "
        f"Goal: push ≤ {PUSH_VS_MERGE_GOAL}× Spark's MERGE.",
        "",
        "| batch | push / MERGE alone | push / Spark process | push CPU / Spark process CPU | push / convert | goal met? |",
        "| --- | ---: | ---: | ---: | ---: | :---: |",
    ]
    for b in batches:
        p, m, c = by.get(f"push_{b.label}"), by.get(f"merge_{b.label}"), by.get(f"convert_{b.label}")
        pw = p.median_wall() if p else None
        mi = m.median_inner() if m else None
        goal = "—" if pw is None or mi is None else ("yes" if pw <= PUSH_VS_MERGE_GOAL * mi else "**no**")
        L.append(f"| {b.label} | {ratio(pw, mi)} | {ratio(pw, m.median_wall() if m else None)} | "
                 f"{ratio(p.median_cpu() if p else None, m.median_cpu() if m else None)} | "
                 f"{ratio(pw, c.median_wall() if c else None)} | {goal} |")

    # does the cost follow the batch?
    pushes = [(b, by[f"push_{b.label}"]) for b in batches if by[f"push_{b.label}"].median_wall() is not None]
    if len(pushes) >= 2:
        (b0, p0), (b1, p1) = pushes[0], pushes[-1]
        L += [
            "",
            f"Push cost vs. batch size: {b0.label} → {b1.label} is {b1.pct / b0.pct:.0f}× the changes; push wall "
            f"{fmt_s(p0.median_wall())} → {fmt_s(p1.median_wall())} ({p1.median_wall() / p0.median_wall():.2f}×), "
            f"CPU {fmt_s(p0.median_cpu())} → {fmt_s(p1.median_cpu())} ({p1.median_cpu() / p0.median_cpu():.2f}×)."
            + (f" The whole first push of {records:,} records took {fp.wall_cell()}." if fp.median_wall() else ""),
        ]
        if any(m for m in (by.get(f"merge_{b.label}") for b in batches) if m and m.median_inner()):
            ms = [(b, by[f"merge_{b.label}"]) for b in batches if by.get(f"merge_{b.label}") and
                  by[f"merge_{b.label}"].median_inner()]
            L.append("")
            L.append("Spark MERGE alone by batch: " + ", ".join(f"{b.label} {fmt_s(m.median_inner())}" for b, m in ms) + ".")

    if pulls:
        L += [
            "",
            "## Pull: one batch's changes vs. the whole table",
            "",
            f"`idbsync pull ROOT --table orders --since {base_version} --to FILE --json` on the table after each batch "
            "(the changes of that one push, from the change data feed), and `pull` without `--since` (the whole table).",
            "",
            "| pull | lines written | bytes | wall (median) | CPU (median) | peak RSS | check |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in pulls:
            ln = row.lines[-1] if row.lines else None  # type: ignore[attr-defined]
            by_ = row.bytes[-1] if row.bytes else None  # type: ignore[attr-defined]
            L.append(f"| {row.what} | {ln:,} | {by_ / 1e6:.1f} MB | {row.wall_cell()} | {fmt_s(row.median_cpu())} | "
                     f"{row.max_rss_mib():.0f} MiB | {row.failure() or row.check_cell()} |" if ln is not None else
                     f"| {row.what} | — | — | {row.wall_cell()} | — | — | {row.failure()} |")
        whole = pulls[-1]
        L.append("")
        for row in pulls[:-1]:
            if row.median_wall() and whole.median_wall() and row.lines and whole.lines:  # type: ignore[attr-defined]
                L.append(f"- {row.batch.label}: {row.lines[-1] / whole.lines[-1]:.2%} of the whole pull's lines in "  # type: ignore[attr-defined]
                         f"{row.median_wall() / whole.median_wall():.1%} of its time "
                         f"({row.median_cpu() / whole.median_cpu():.1%} of its CPU).")

    L += [
        "",
        "## Peak RSS of push",
        "",
        f"Budget: ≤ {PUSH_RSS_BUDGET_MIB} MiB for a push into the {records:,}-row table.",
        "",
        "| push | peak RSS (max over runs) | runs | within budget? |",
        "| --- | ---: | --- | :---: |",
    ]
    for row in [fp] + [r for r in rows if r.tool == "idbsync"]:
        label = "first version (whole file)" if row is fp else f"{row.batch.label} batch"
        mib = row.max_rss_mib()
        L.append(f"| {label} | {mib:.0f} MiB | {', '.join(f'{r.rss_kib / 1024:.0f}' for r in row.runs)} MiB | "
                 f"{'yes' if mib <= PUSH_RSS_BUDGET_MIB else '**no**'} |")
    L += ["", "Checks: " + ("every push, MERGE and pull counted exactly what the batch holds." if ok_all else
                            "**some runs did not count what the batch holds — see the check columns.**")]
    suffix = "-quick" if args.quick else ""
    return "\n".join(L) + "\n", RESULTS / f"{started:%Y-%m-%d}-sync{suffix}.md", ok_all
