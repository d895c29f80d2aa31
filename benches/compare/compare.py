"""idbsync convert vs. DuckDB, Polars, pyarrow, json2parquet and Spark: the same
generated NDJSON file -> zstd Parquet, at several sizes; then the SQL previews of
query_vs_duckdb.py and the HDFS uploads of put_vs_fsshell.py, in one report.

`bench.py compare` (benches/compare/compare.sh builds the release binaries, the venv,
json2parquet and the test HDFS launcher first). Every measurement is a fresh process
under the launcher of harness.py (`measure`), which gives the run a timeout and reports
its wall time, CPU (user+sys) and peak RSS with those of the descendants it waited for;
tools alternate run by run; medians are reported. Every output is checked with DuckDB
against idbsync's: rows and a checksum of a few columns. See benches/compare/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness import (
    DATA,
    DUCKDB_CHILD,
    RESULTS,
    ROOT,
    ConvertCase,
    Session,
    add_common_args,
    check_inputs,
    count_lines,
    generate,
    measure,
    parquet_bytes,
    progress,
    rel,
    resolve_runs,
    sh,
    warm,
)

HELP = "every tool on the same file at three sizes, plus SQL previews and HDFS uploads (compare.sh)"
DEFAULT_SIZES = [250_000, 1_000_000, 4_000_000]  # ~100 MB, ~400 MB, ~1.6 GB of NDJSON
QUICK_SIZES = [250_000]
DEFAULT_RUNS = 3
QUICK_RUNS = 2
EXTRAS_MAX_RECORDS = 1_000_000  # idbsync --threads 1 and the Dexie input: on sizes up to this
SPARK_DRIVER_MEMORY = "4g"
DUCKDB_GOAL = 0.5  # idbsync should take at most half of DuckDB's wall time
JSON2PARQUET = ROOT / "benches" / ".tools" / "bin" / "json2parquet"
SLOW_SECONDS = 45.0  # a first run longer than this is not repeated on that size (the time budget)
# The SQL-preview and HDFS-upload comparisons that follow the conversions: records of
# their datasets (default, --quick; never more than the largest size) and runs per tool
# at most.
QUERY_RECORDS = (1_000_000, 250_000)
PUT_RECORDS = (1_000_000, 250_000)
PUT_RUNS = 2
MINIDFS_CLASSPATH = ROOT / "testdata" / "minidfs" / "java" / "target" / "classpath.txt"

# The peers' children print `Type: first line of the error` on stderr and exit 3.
FAIL = r"""
import sys
def fail(e, out=sys.stderr):
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    print(f"{type(e).__name__}: {first}", file=out, flush=True)
    sys.exit(3)
"""
POLARS_CHILD = FAIL + r"""
import polars as pl
try:
    pl.read_ndjson(sys.argv[1], infer_schema_length=None).write_parquet(sys.argv[2], compression="zstd")
except Exception as e:
    fail(e)
"""
PYARROW_CHILD = FAIL + r"""
import pyarrow.json as pj, pyarrow.parquet as pq
try:
    pq.write_table(pj.read_json(sys.argv[1]), sys.argv[2], compression="zstd")
except Exception as e:
    fail(e)
"""
# Spark in local mode. Its and the JVM's log lines go to a file (argv[4]) so that stderr
# keeps only the error; the innermost Java cause is the one reported. The JVM is the
# gateway's child: closing its stdin ends it, and waiting for it puts its CPU time and
# peak RSS into this process's rusage. SRC "-" = start-up and shut-down only.
SPARK_CHILD = r"""
import os, sys
src, out, mem, log = sys.argv[1:5]
err = os.fdopen(os.dup(2), "w")
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.dup2(fd, 1)
os.dup2(fd, 2)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
from pyspark import SparkContext
from pyspark.sql import SparkSession
code, spark = 0, None
try:
    spark = (SparkSession.builder.master("local[*]").appName("idbsync-compare")
             .config("spark.driver.memory", mem).config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    if src != "-":
        spark.read.json(src).write.parquet(out, compression="zstd")
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


@dataclass
class Tool:
    """One way to convert; `argv(src, out_dir)` writes its Parquet under out_dir."""

    key: str
    label: str
    argv: Callable[[Path, Path], list[str]]
    peer: bool = True  # a peer of idbsync (in the chart and the ratios)
    extra: bool = False  # idbsync variants: 1 thread, Dexie input
    dexie: bool = False  # reads the Dexie export of the same records


def tools(idbsync: Path, work: Path) -> list[Tool]:
    py = sys.executable

    def idb(*opts: str) -> Callable[[Path, Path], list[str]]:
        return lambda src, out: [str(idbsync), "convert", str(src), "--out", str(out), "-q", *opts]

    def duck(sample: str) -> Callable[[Path, Path], list[str]]:
        return lambda src, out: [py, "-c", DUCKDB_CHILD, str(src), str(out / "out.parquet"), sample]

    def child(script: str) -> Callable[[Path, Path], list[str]]:
        return lambda src, out: [py, "-c", script, str(src), str(out / "out.parquet")]

    def spark(src: Path, out: Path) -> list[str]:
        return [py, "-c", SPARK_CHILD, str(src), str(out / "spark"), SPARK_DRIVER_MEMORY, str(work / "spark.log")]

    def j2p(src: Path, out: Path) -> list[str]:
        return [str(JSON2PARQUET), "-c", "zstd", str(src), str(out / "out.parquet")]

    return [
        Tool("idbsync", "idbsync convert", idb(), peer=False),
        Tool("duckdb", "DuckDB `read_json_auto(f)`", duck("default")),
        Tool("duckdb_full", "DuckDB `read_json_auto(f, sample_size=-1)`", duck("-1")),
        Tool("polars", "Polars `read_ndjson(infer_schema_length=None)`", child(POLARS_CHILD)),
        Tool("pyarrow", "pyarrow `json.read_json` + `pq.write_table`", child(PYARROW_CHILD)),
        Tool("json2parquet", "json2parquet `-c zstd`", j2p),
        Tool("spark", f"Spark `local[*]`, driver {SPARK_DRIVER_MEMORY}", spark),
        Tool("idbsync_t1", "idbsync convert `--threads 1`", idb("--threads", "1"), peer=False, extra=True),
        Tool("idbsync_dexie", "idbsync convert, Dexie export", idb(), peer=False, extra=True, dexie=True),
    ]


def startup_cases(work: Path) -> list[ConvertCase]:
    """Interpreter, import and JVM start-up alone: included in the peers' wall times."""
    py = sys.executable
    spark = [py, "-c", SPARK_CHILD, "-", "-", SPARK_DRIVER_MEMORY, str(work / "spark.log")]
    pa = "import pyarrow.json, pyarrow.parquet"
    return [
        ConvertCase(key, "startup", what, Path("-"), argv, "—", 0)
        for key, what, argv in [
            ("start_duckdb", "`python -c 'import duckdb'`", [py, "-c", "import duckdb"]),
            ("start_polars", "`python -c 'import polars'`", [py, "-c", "import polars"]),
            ("start_pyarrow", f"`python -c '{pa}'`", [py, "-c", pa]),
            ("start_spark", f"Spark session start + stop (`local[*]`, driver {SPARK_DRIVER_MEMORY}), no data", spark),
        ]
    ]


# Which tools' wall times a start-up row is part of (it is left out when they all are).
STARTUP_OF = {
    "start_duckdb": {"duckdb", "duckdb_full"},
    "start_polars": {"polars"},
    "start_pyarrow": {"pyarrow"},
    "start_spark": {"spark"},
}

# Checked columns: name -> SQL over `src` (the output's Parquet files). A column a tool
# dropped or typed otherwise makes its query fail, recorded as "missing".
METRICS = {
    "rows": "SELECT count(*) FROM {src}",
    "sum(id)": "SELECT sum(id) FROM {src}",
    "count(customerId)": "SELECT count(customerId) FROM {src}",
    "distinct shipping.city": "SELECT count(DISTINCT shipping.city) FROM {src}",
    "sum(total) in cents": "SELECT sum(CAST(round(total * 100) AS BIGINT)) FROM {src}",
    "items": "SELECT count(*), sum(CAST(round(i.price * 100) AS BIGINT)) FROM (SELECT unnest(items) AS i FROM {src})",
    "count(giftMessage)": "SELECT count(giftMessage) FROM {src}",
    "count(lateKey)": "SELECT count(lateKey) FROM {src}",
}


def data_files(out: Path) -> list[Path]:
    """Parquet files under out, without idbsync's `_rejects/`, `_temporary/` and hidden files."""
    hidden = ("_", ".")
    return sorted(p for p in out.rglob("*.parquet") if not any(x.startswith(hidden) for x in p.relative_to(out).parts))


def checksum(out: Path, metrics: dict[str, str] = METRICS) -> dict[str, str]:
    """The METRICS of the output's data files, as text (`missing` where a query fails)."""
    import duckdb

    files = data_files(out)
    if not files:
        return {"rows": "no output"}
    src = "read_parquet([" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "], union_by_name=true)"
    con = duckdb.connect()
    res = {}
    try:
        for name, sql in metrics.items():
            try:
                row = con.execute(sql.format(src=src)).fetchone()
                res[name] = " / ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row)
            except duckdb.Error:
                res[name] = "missing"
    finally:
        con.close()
    return res


def count_rows(out: Path) -> int:
    return to_int(checksum(out, {"rows": METRICS["rows"]})["rows"])


def to_int(cell: str) -> int:
    try:
        return int(cell.replace(",", ""))
    except ValueError:
        return 0


class CompareCase(ConvertCase):
    """One tool on one size: its runs, and the checksum of its first successful output."""

    def __init__(self, tool: Tool, src: Path, records: int, argv: list[str]):
        super().__init__(tool.key, tool.key, tool.label, src, argv, f"{records:,}", records)
        self.t = tool
        self.metrics: dict[str, str] | None = None
        self.stopped = ""  # why it is not run (again)
        self.note = ""  # said in the result column

    def diff(self, ref: dict[str, str] | None) -> list[str]:
        """What differs from the reference checksum (idbsync's; else the input's line count)."""
        if self.metrics is None:
            return []
        base = ref if ref is not None else {"rows": f"{self.records:,}"}
        out = [f"{k} {self.metrics.get(k)} vs. {v}" for k, v in base.items() if self.metrics.get(k) != v]
        bad = sorted({r for r in self.rows if r != self.records})
        if bad:
            out.append(f"rows {', '.join(f'{r:,}' for r in bad)} vs. {self.records:,} input lines")
        return out


@dataclass
class SizeResult:
    records: int
    ndjson_bytes: int
    dexie_bytes: int
    timeout: float
    cases: list[CompareCase]

    def case(self, key: str) -> CompareCase | None:
        return next((c for c in self.cases if c.key == key), None)

    def ref(self) -> dict[str, str] | None:
        """idbsync's checksum, when its output has the input's row count."""
        c = self.case("idbsync")
        if c is None or c.metrics is None or c.diff(None):
            return None
        return c.metrics

    def input_bytes(self, c: CompareCase) -> int:
        return self.dexie_bytes if c.t.dexie else self.ndjson_bytes


@dataclass
class Results:
    sizes: list[SizeResult]
    startup: list[ConvertCase]
    runs: int
    slow: float
    command: str
    header: list[str]
    started: dt.datetime
    chart: str
    sections: list[list[str]]  # the query and upload comparisons' own sections


def run_size(args, idbsync: Path, gen: Path, records: int, work: Path, first: bool) -> tuple[SizeResult, list]:
    """Generates (or reuses) the inputs of one size and runs every tool on them."""
    nd = DATA / f"orders-{records}.ndjson"
    generate(gen, nd, ["--records", str(records), "--format", "ndjson"])
    if count_lines(nd) != records:
        raise SystemExit(f"{rel(nd)} does not have {records:,} lines: delete it and rerun")
    dexie = DATA / f"orders-dexie-{records}.json"
    extras = records <= EXTRAS_MAX_RECORDS
    if extras:
        generate(gen, dexie, ["--records", str(records), "--format", "dexie"])
        warm(dexie)
    warm(nd)
    out = work / "out"
    timeout = args.timeout or max(180.0, 0.4 * nd.stat().st_size / 1e6)
    cases = []
    for t in tools(idbsync, work):
        if t.key in args.skip or (t.extra and not extras):
            continue
        src = dexie if t.dexie else nd
        c = CompareCase(t, src, records, t.argv(src, out))
        c.stopped = args.stopped.get(t.key, "")
        cases.append(c)
    starts = [c for c in startup_cases(work) if first and not STARTUP_OF[c.key] <= args.skip]
    for i in range(args.runs):
        # Start-up alone is measured once, in the first round of the first size.
        for c in cases + (starts if i == 0 else []):
            if getattr(c, "stopped", ""):
                continue
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            r = measure(c.argv, timeout=timeout)
            c.runs.append(r)
            note = ""
            if isinstance(c, CompareCase) and r.ok:
                if c.metrics is None:
                    c.metrics = checksum(out)
                    rows = to_int(c.metrics["rows"])
                else:
                    rows = count_rows(out)
                c.rows.append(rows)
                c.out_bytes.append(parquet_bytes(out))
                note = f"{rows:,} rows "
                if i == 0 and args.runs > 1 and r.wall > args.slow:
                    c.stopped = c.note = f"1 run: it took more than {args.slow:.0f} s (`--slow`), not repeated"
            elif isinstance(c, CompareCase):
                # A failure does not change from run to run: it is recorded once. A timeout
                # or a kill also keeps the tool off the larger sizes.
                c.stopped = "failed"
                if r.error.startswith(("timed out", "killed")):
                    args.stopped[c.key] = f"not run: {r.error} on {records:,} records"
                if c.key == "spark" and (work / "spark.log").exists():
                    shutil.copy(work / "spark.log", DATA / f"compare-spark-{records}.log")
            progress(i, args.runs, c.key, r, note, prefix=f"{records:>9,} ", width=14)
    shutil.rmtree(out, ignore_errors=True)
    size = SizeResult(records, nd.stat().st_size, dexie.stat().st_size if extras else 0, timeout, cases)
    return size, starts


def tool_versions() -> list[str]:
    """The peers' versions (the header's machine, idbsync, duckdb and rustc lines come first)."""
    py = sys.executable
    names = "polars, pyarrow, pyspark, matplotlib"
    mods = f"import {names}; print(*(m.__version__ for m in ({names})))"
    pl, pa, ps, mpl = (sh([py, "-c", mods]).split() + ["?"] * 4)[:4]
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = "java: ?"
    return [
        f"- polars {pl}, pyarrow {pa}, pyspark {ps} on {java.strip()}, matplotlib {mpl} (chart only)",
        f"- {sh([str(JSON2PARQUET), '--version'])} (`cargo install json2parquet --locked`)",
    ]


def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path]:
    from compare_chart import plot
    from compare_report import render

    session = Session(idbsync, origin)
    started, header = session.started, session.header
    header += tool_versions()
    args.stopped = {}
    work = Path(tempfile.mkdtemp(prefix="compare-out-", dir=DATA))
    sizes, startup = [], []
    try:
        for n, records in enumerate(args.sizes):
            size, starts = run_size(args, idbsync, gen, records, work, n == 0)
            sizes.append(size)
            startup += starts
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sections = []
    which = 1 if args.quick else 0
    if "query" not in args.skip:
        import query_vs_duckdb

        records = min(QUERY_RECORDS[which], max(args.sizes))
        duckdb = query_vs_duckdb.duckdb_cli()
        if duckdb is None:
            raise SystemExit("no DuckDB CLI for the SQL section: run benches/compare/setup-venv.sh (duckdb-cli)")
        sections.append(query_vs_duckdb.section(records, args.runs, idbsync, gen, duckdb))
    if "put" not in args.skip:
        if shutil.which("java") and MINIDFS_CLASSPATH.exists():
            import put_vs_fsshell

            records = min(PUT_RECORDS[which], max(args.sizes))
            runs = 1 if args.quick else min(args.runs, PUT_RUNS)  # --quick: within its 3 minutes
            sections.append(put_vs_fsshell.section(records, runs, idbsync, gen))
        else:
            sections.append(["## Upload into HDFS: idbsync put vs. Hadoop FsShell -put", "",
                             "Not measured: no `java` on PATH or the test HDFS launcher is not built "
                             "(`scripts/minidfs.sh build`)."])
    session.end(" (other work shares it)")
    header.append(f"- took {(dt.datetime.now(dt.timezone.utc) - started).total_seconds() / 60:.1f} min in all")
    stem = f"{started:%Y-%m-%d}-compare{'-quick' if args.quick else ''}"
    out = args.out or RESULTS / f"{stem}.md"
    res = Results(
        sizes, startup, args.runs, args.slow, args.command, header, started, out.with_suffix(".png").name, sections
    )
    plot(res, out.with_suffix(".png"))
    return render(res), out


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=None, quick=f"{QUICK_SIZES[0]:,} records (~100 MB), {QUICK_RUNS} runs",
        runs=f"runs per tool and size (default {DEFAULT_RUNS}; --quick: {QUICK_RUNS})",
        out="benches/results/<date>-compare[-quick].md",
    )
    p.add_argument("--sizes", help="comma-separated record counts (default 250000,1000000,4000000: ~0.1/0.4/1.6 GB)")
    p.add_argument("--timeout", type=float, help="seconds per run (default max(180, 0.4 s per MB of input))")
    p.add_argument(
        "--slow", type=float, default=SLOW_SECONDS,
        help=f"a tool whose first run on a size takes longer is not repeated there (default {SLOW_SECONDS:.0f} s)",
    )
    p.add_argument(
        "--skip", default="",
        help="comma-separated tool keys to leave out (e.g. spark,polars), and `query`/`put` for those comparisons",
    )


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    # The report names the command that made it (without machine paths).
    args.command = "benches/compare/compare.sh" + "".join(f" {a}" for a in args.argv if not a.startswith(str(ROOT)))
    default = QUICK_SIZES if args.quick else DEFAULT_SIZES
    args.sizes = [int(x.replace("_", "")) for x in args.sizes.split(",")] if args.sizes else default
    resolve_runs(p, args, QUICK_RUNS if args.quick else DEFAULT_RUNS)
    args.skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    if min(args.sizes) < 1:
        p.error("--runs and --sizes must be positive")
    check_inputs(p, args)
    if "json2parquet" not in args.skip and not os.access(JSON2PARQUET, os.X_OK):
        p.error(f"{rel(JSON2PARQUET)} not found: cargo install json2parquet --locked --root benches/.tools")
