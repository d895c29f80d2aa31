#!/usr/bin/env python3
"""idbsync schema inference vs. a DuckDB NDJSON -> zstd Parquet conversion.

Run through benches/compare/infer-vs-duckdb.sh (builds the release binaries and the
venv first). Every measurement is a fresh child process; wall time is taken around
the child, CPU (user+sys) and peak RSS come from its rusage (see `measure`).
Tools alternate run by run so that machine noise hits all of them alike; medians
are reported. See benches/compare/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = HERE.parent
ROOT = BENCHES.parent
DATA = BENCHES / "data"
RESULTS = BENCHES / "results"

DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 200_000
TRUNCATE_FRACTION = 0.9
INFER_TARGET = 0.25  # idbsync infer should cost < 25% of DuckDB's whole conversion
MEMORY_SIZE = "2GB"
MEMORY_TARGET_MIB = 256

# The DuckDB child: one COPY in a fresh interpreter. It prints the in-process time
# of the COPY as JSON; on failure, the error's first line on stderr and exit 3.
DUCKDB_CHILD = r"""
import json, sys, time
import duckdb
src, out, sample = sys.argv[1], sys.argv[2], sys.argv[3]
q = lambda s: "'" + s.replace("'", "''") + "'"
opts = "" if sample == "default" else f", sample_size={int(sample)}"
con = duckdb.connect()
t = time.perf_counter()
try:
    con.execute(f"COPY (SELECT * FROM read_json_auto({q(src)}{opts})) TO {q(out)} (FORMAT parquet, COMPRESSION zstd)")
except duckdb.Error as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    print(f"{type(e).__name__}: {first}", file=sys.stderr)
    sys.exit(3)
print(json.dumps({"copy_s": time.perf_counter() - t}))
"""


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kib: int
    ok: bool
    error: str = ""
    inner: float | None = None  # in-process time reported by the child (DuckDB COPY)


@dataclass
class Case:
    key: str
    tool: str  # "idbsync" | "duckdb"
    what: str
    file: Path
    argv: list[str]
    runs: list[Run] = field(default_factory=list)

    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def median_wall(self) -> float | None:
        ok = self.ok_runs()
        return statistics.median(r.wall for r in ok) if ok else None

    def median_cpu(self) -> float | None:
        ok = self.ok_runs()
        return statistics.median(r.cpu for r in ok) if ok else None

    def wall_cell(self) -> str:
        """Median wall of the successful runs, else how long the failing runs took."""
        if self.ok_runs():
            return fmt_s(self.median_wall())
        if self.runs:
            return f"fails after {statistics.median(r.wall for r in self.runs):.2f} s"
        return "—"

    def median_inner(self) -> float | None:
        vals = [r.inner for r in self.ok_runs() if r.inner is not None]
        return statistics.median(vals) if vals else None

    def max_rss_mib(self) -> float:
        return max(r.rss_kib for r in self.runs) / 1024 if self.runs else 0.0

    def failure(self) -> str:
        errs = sorted({r.error for r in self.runs if not r.ok})
        if not errs:
            return ""
        n = sum(1 for r in self.runs if not r.ok)
        return f"{n}/{len(self.runs)} failed: " + " / ".join(errs)


# Every measured command runs under this small launcher (`python -I -S`), which times it
# and reports its CPU and peak RSS from RUSAGE_CHILDREN. Measuring the command as a
# direct child of the harness would not do: Linux carries the forking process's RSS
# high-water mark into the child's `ru_maxrss`, so a harness that has loaded DuckDB
# would inflate every tool's peak. The launcher gives the run a timeout (whole process
# group) and leaves nothing of it running.
LAUNCHER = r"""
import json, os, resource, signal, subprocess, sys, time
limit, report, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
t0 = time.perf_counter()
p = subprocess.Popen(argv, start_new_session=True)
timed_out = False
try:
    code = p.wait(timeout=limit)
except subprocess.TimeoutExpired:
    timed_out = True
    os.killpg(p.pid, signal.SIGTERM)
    try:
        code = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        code = p.wait()
wall = time.perf_counter() - t0
try:
    os.killpg(p.pid, signal.SIGKILL)  # nothing of the run outlives it
except ProcessLookupError:
    pass
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(report, "w") as f:
    json.dump({"wall": wall, "rss_kib": ru.ru_maxrss, "cpu": ru.ru_utime + ru.ru_stime, "code": code,
               "timed_out": timed_out}, f)
sys.exit(124 if timed_out else (code if code >= 0 else 128 - code))
"""


def measure(argv: list[str], cwd: Path | None = None, timeout: float = 3600.0) -> Run:
    """Runs argv as a fresh process under LAUNCHER: its wall time, CPU (user+sys) and
    peak RSS, its first stderr line when it fails, and a timeout."""
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        report = Path(tmp) / "rusage.json"
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, f"{timeout:.0f}", str(report), *argv]
        t0 = time.perf_counter()
        proc = subprocess.run(launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        try:
            ru = json.loads(report.read_text())
        except (OSError, ValueError):
            ru = None  # the launcher itself failed: its exit status and stderr say why
    if ru is None:
        run = Run(wall=wall, cpu=0.0, rss_kib=0, ok=False)
        code = proc.returncode
    else:
        run = Run(wall=ru["wall"], cpu=ru["cpu"], rss_kib=ru["rss_kib"], ok=ru["code"] == 0 and not ru["timed_out"])
        code = ru["code"]
    if run.ok:
        for line in reversed(stdout.splitlines()):
            if line.startswith("{") and "copy_s" in line:
                run.inner = json.loads(line)["copy_s"]
                break
    elif ru is not None and ru["timed_out"]:
        run.error = f"timed out after {timeout:.0f} s"
    else:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        msg = lines[0] if lines else f"exit status {code}"
        if code < 0 and not lines:
            sig = -code
            msg = f"killed by signal {sig}" + (" (SIGKILL: out of memory?)" if sig == 9 else "")
        run.error = (msg[:237] + "...") if len(msg) > 240 else msg
    return run


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def generate(gen: Path, out: Path, args: list[str]) -> None:
    if out.exists():
        print(f"using existing {rel(out)} ({out.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    print(f"generating {rel(out)} ...", file=sys.stderr)
    subprocess.run([str(gen), *args, "--out", str(tmp)], check=True)
    tmp.rename(out)


def truncate_lines(src: Path, dst: Path, lines: int) -> None:
    if dst.exists():
        print(f"using existing {rel(dst)} ({dst.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
        return
    tmp = dst.with_name(dst.name + ".partial")
    with open(src, "rb") as r, open(tmp, "wb") as w:
        for i, line in enumerate(r):
            if i >= lines:
                break
            w.write(line)
    tmp.rename(dst)


def warm(path: Path) -> None:
    """Reads a file once so every measured run sees it in the page cache."""
    with open(path, "rb") as f:
        while f.read(16 << 20):
            pass


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> list[str]:
    model, mem = "?", "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- machine: {nproc} CPUs (nproc), {model}, {mem} RAM, {platform.system()} {platform.release()}",
    ]


def versions(idbsync: Path, origin: Path) -> list[str]:
    duckdb = sh([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"])
    rev = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    built = dt.datetime.fromtimestamp(idbsync.stat().st_mtime, dt.timezone.utc)
    return [
        f"- {sh([str(idbsync), '--version'])} (`{rel(origin)}`, built {built:%Y-%m-%d %H:%M} UTC; "
        f"tree at git {rev}{' + uncommitted changes' if dirty else ''})",
        f"- duckdb {duckdb} (Python {platform.python_version()}), default threads",
        f"- {sh(['rustc', '--version'])}",
    ]


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


def pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{100 * a / b:.1f}%"


def compare(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path]:
    records = QUICK_RECORDS if args.quick and args.records is None else (args.records or DEFAULT_RECORDS)
    full = DATA / f"orders-{records}.ndjson"
    part_lines = int(records * TRUNCATE_FRACTION)
    part = DATA / f"orders-{records}-first90.ndjson"
    generate(gen, full, ["--records", str(records), "--format", "ndjson"])
    truncate_lines(full, part, part_lines)
    for f in (full, part):
        warm(f)

    outdir = Path(tempfile.mkdtemp(prefix="duckdb-out-", dir=DATA))
    out = outdir / "out.parquet"

    def duck(src: Path, sample: str) -> list[str]:
        return [sys.executable, "-c", DUCKDB_CHILD, str(src), str(out), sample]

    def idb(src: Path) -> list[str]:
        return [str(idbsync), "infer", str(src)]

    cases = [
        Case("idb_full", "idbsync", "`idbsync infer` (full scan)", full, idb(full)),
        Case("duck_full_default", "duckdb", "DuckDB → Parquet, default sampling", full, duck(full, "default")),
        Case("duck_full_scan", "duckdb", "DuckDB → Parquet, `sample_size=-1`", full, duck(full, "-1")),
        Case("idb_part", "idbsync", "`idbsync infer` (full scan)", part, idb(part)),
        Case("duck_part_default", "duckdb", "DuckDB → Parquet, default sampling", part, duck(part, "default")),
        Case("duck_part_scan", "duckdb", "DuckDB → Parquet, `sample_size=-1`", part, duck(part, "-1")),
    ]
    by = {c.key: c for c in cases}
    # Python + `import duckdb` alone, to show what of a DuckDB wall time is start-up.
    startup = Case("startup", "duckdb", "python -c 'import duckdb'", full, [sys.executable, "-c", "import duckdb"])

    started = dt.datetime.now(dt.timezone.utc)
    header = machine() + versions(idbsync, origin)
    load_start = load()
    out_bytes: dict[str, int] = {}
    for i in range(args.runs):
        for c in cases + [startup]:
            r = measure(c.argv)
            c.runs.append(r)
            if c.tool == "duckdb" and r.ok and out.exists():
                out_bytes.setdefault(c.key, out.stat().st_size)
            if out.exists():
                out.unlink()
            state = "ok" if r.ok else "FAIL"
            print(
                f"run {i + 1}/{args.runs} {c.key:18} {r.wall:7.2f} s wall {r.cpu:7.2f} s cpu "
                f"{r.rss_kib / 1024:8.0f} MiB  {state} {r.error[:100]}",
                file=sys.stderr,
            )
    shutil.rmtree(outdir, ignore_errors=True)
    header.append(f"- load average (1/5/15 min) at start: {load_start}; at end: {load()} (other work shares the machine)")

    # What idbsync found that a 20,480-row sample misses.
    schema = sh([str(idbsync), "infer", "--json", str(full)])
    found = ""
    try:
        doc = json.loads(schema)
        store = doc["stores"][0]
        names = [f["name"] for f in store["schema"]["fields"]]
        late = [n for n in ("giftMessage", "lateKey") if n in names]
        found = f"{store['rows']:,} rows, {len(names)} top-level columns incl. {', '.join(late) or 'none of the late keys'}"
    except (ValueError, KeyError, IndexError, TypeError):
        found = "could not read `idbsync infer --json` output"

    size = {f: f.stat().st_size for f in (full, part)}
    lines = [
        f"# idbsync infer vs. DuckDB NDJSON → Parquet — {started:%Y-%m-%d}",
        "",
        f"Generated by `benches/compare/infer-vs-duckdb.sh{' --quick' if args.quick else ''}"
        f"{f' --records {args.records}' if args.records else ''}{f' --runs {args.runs}' if args.runs != 5 else ''}`"
        f" at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *header,
        f"- inputs: `idbsync-gen --records {records} --format ndjson` = `{rel(full)}` "
        f"({size[full] / 1e6:.0f} MB, {records:,} lines); `{rel(part)}` = its first {part_lines:,} lines "
        f"({size[part] / 1e6:.0f} MB). Both in the page cache.",
        f"- {args.runs} runs per row, tools alternating run by run; median wall and median CPU (user+sys of the "
        "command and its children, through a small launcher) over the successful runs; peak RSS = max `ru_maxrss` "
        "over all runs.",
        "- DuckDB rows run in a fresh `python -c` child (wall and RSS include the interpreter; "
        "\"COPY\" is the in-process time of the statement alone). idbsync output goes to /dev/null.",
        "",
        "| file | tool | wall (median) | CPU (median) | peak RSS | COPY only | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in cases + [startup]:
        fname = "—" if c is startup else ("full" if c.file == full else "first 90%")
        res = c.failure() or "ok"
        if c.key in out_bytes:
            res += f" ({out_bytes[c.key] / 1e6:.0f} MB Parquet)"
        res = res.replace("|", "\\|")
        lines.append(
            f"| {fname} | {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | "
            f"{c.max_rss_mib():.0f} MiB | {fmt_s(c.median_inner()) if c.tool == 'duckdb' else '—'} | {res} |"
        )

    def ratio_row(label: str, a: Case, b: Case) -> str:
        w = pct(a.median_wall(), b.median_wall())
        cpu = pct(a.median_cpu(), b.median_cpu())
        wv = a.median_wall() / b.median_wall() if a.median_wall() and b.median_wall() else None
        verdict = "—" if wv is None else ("yes" if wv < INFER_TARGET else "**no**")
        if b.median_wall() is None:
            w, cpu, verdict = "DuckDB fails", "—", "—"
        return f"| {label} | {w} | {cpu} | {verdict} |"

    lines += [
        "",
        f"Ratios: idbsync infer / DuckDB conversion of the same file (target: wall < {INFER_TARGET:.0%}).",
        "",
        "| file, DuckDB setting | wall | CPU | wall < 25%? |",
        "| --- | ---: | ---: | :---: |",
        ratio_row("first 90%, default sampling", by["idb_part"], by["duck_part_default"]),
        ratio_row("first 90%, `sample_size=-1`", by["idb_part"], by["duck_part_scan"]),
        ratio_row("full, default sampling", by["idb_full"], by["duck_full_default"]),
        ratio_row("full, `sample_size=-1` (what idbsync does)", by["idb_full"], by["duck_full_scan"]),
        "",
        f"idbsync on the full file: {found}.",
    ]
    fail = by["duck_full_default"].failure()
    if fail:
        lines += [
            "",
            "DuckDB's default sampling (the first 20,480 rows) fails on the full file: the generator's "
            "`giftMessage` first appears at 90% of the records (and `lateKey` / a string `customerId` in the "
            f"last one), so the sampled schema rejects them. Error: `{fail}`.",
        ]
    else:
        lines += ["", "DuckDB's default sampling did **not** fail on the full file this time."]
    name = f"{started:%Y-%m-%d}-infer{'-quick' if args.quick else ''}.md"
    return "\n".join(lines) + "\n", RESULTS / name


def memory(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path]:
    export = DATA / f"orders-dexie-{MEMORY_SIZE}.json"
    generate(gen, export, ["--size", MEMORY_SIZE, "--format", "dexie"])
    warm(export)
    started = dt.datetime.now(dt.timezone.utc)
    header = machine() + versions(idbsync, origin)
    runs = args.runs if args.runs_given else 3
    load_start = load()
    cases = [
        Case("default", "idbsync", "`idbsync infer` (all cores)", export, [str(idbsync), "infer", str(export)]),
        Case("t1", "idbsync", "`idbsync infer --threads 1`", export, [str(idbsync), "infer", "--threads", "1", str(export)]),
    ]
    for i in range(runs):
        for c in cases:
            r = measure(c.argv)
            c.runs.append(r)
            print(
                f"run {i + 1}/{runs} {c.key:8} {r.wall:7.2f} s wall {r.cpu:7.2f} s cpu "
                f"{r.rss_kib / 1024:8.0f} MiB  {'ok' if r.ok else 'FAIL ' + r.error}",
                file=sys.stderr,
            )
    size = export.stat().st_size
    header.append(f"- load average (1/5/15 min) at start: {load_start}; at end: {load()} (other work shares the machine)")
    lines = [
        f"# idbsync infer peak memory on a {MEMORY_SIZE} Dexie export — {started:%Y-%m-%d}",
        "",
        f"Generated by `benches/compare/infer-vs-duckdb.sh --memory` at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *header,
        f"- input: `idbsync-gen --size {MEMORY_SIZE} --format dexie` = `{rel(export)}` ({size / 1e9:.2f} GB, "
        f"{size / 2**20:.0f} MiB), in the page cache",
        f"- {runs} runs per row, alternating; peak RSS = max `ru_maxrss` of the child over all runs "
        f"(target < {MEMORY_TARGET_MIB} MiB)",
        "",
        "| command | wall (median) | CPU (median) | throughput | peak RSS | < 256 MiB? | result |",
        "| --- | ---: | ---: | ---: | ---: | :---: | --- |",
    ]
    for c in cases:
        w = c.median_wall()
        tp = f"{size / 1e6 / w:.0f} MB/s" if w else "—"
        rss = c.max_rss_mib()
        lines.append(
            f"| {c.what} | {fmt_s(w)} | {fmt_s(c.median_cpu())} | {tp} | {rss:.0f} MiB | "
            f"{'yes' if rss < MEMORY_TARGET_MIB else '**no**'} | {c.failure() or 'ok'} |"
        )
    return "\n".join(lines) + "\n", RESULTS / f"{started:%Y-%m-%d}-infer-memory.md"


def check_inputs(p: argparse.ArgumentParser, args: argparse.Namespace, need_duckdb: bool = True) -> None:
    """Fails early (through the argument parser) when a binary or duckdb is missing."""
    for b in (args.idbsync, args.gen):
        if not os.access(b, os.X_OK):
            p.error(f"{b} not found: cargo build --release -p idbsync -p idbsync-testdata-gen")
    if need_duckdb:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            p.error("duckdb is not importable: run benches/compare/setup-venv.sh and use benches/.venv/bin/python")


def with_snapshot(binary: Path, run_with):
    """Runs `run_with(copy)` on a private copy of `binary`, so that a rebuild during the
    run cannot mix two builds."""
    DATA.mkdir(parents=True, exist_ok=True)
    snap = Path(tempfile.mkdtemp(prefix="bin-", dir=DATA))
    try:
        copy = snap / binary.name
        shutil.copy2(binary, copy)
        return run_with(copy)
    finally:
        shutil.rmtree(snap, ignore_errors=True)


def write_report(path: Path, report: str) -> None:
    """Writes (and prints) a results file, without machine paths: tool errors quote
    absolute paths, and results are committed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    report = report.replace(str(ROOT) + "/", "")
    path.write_text(report)
    print(report)
    print(f"wrote {rel(path.resolve())}", file=sys.stderr)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, help=f"NDJSON records (default {DEFAULT_RECORDS:,}; --quick: {QUICK_RECORDS:,})")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_RECORDS:,} records; result file gets a -quick suffix")
    p.add_argument("--runs", type=int, help="runs per tool and file (default 5; --memory: 3)")
    p.add_argument("--memory", action="store_true", help=f"peak RSS of idbsync infer on a {MEMORY_SIZE} Dexie export")
    p.add_argument("--out", type=Path, help="result file (default benches/results/<date>-infer[-quick|-memory].md)")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    p.add_argument("--idbsync", type=Path, default=target / "idbsync", help="idbsync binary")
    p.add_argument("--gen", type=Path, default=target / "idbsync-gen", help="idbsync-gen binary")
    args = p.parse_args()
    args.runs_given = args.runs is not None
    args.runs = args.runs or 5
    if args.runs < 1:
        p.error("--runs must be at least 1")
    check_inputs(p, args, need_duckdb=not args.memory)
    report, path = with_snapshot(
        args.idbsync, lambda idbsync: (memory if args.memory else compare)(args, idbsync, args.gen.resolve(), args.idbsync.resolve())
    )
    write_report(args.out or path, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
