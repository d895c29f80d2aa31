"""The machinery every comparison in benches/compare shares.

- where things are (`ROOT`, `DATA` for generated inputs, `RESULTS` for reports);
- the common options (`add_common_args`: `--records`, `--quick`, `--runs`, `--out`,
  `--idbsync`, `--gen`) and the early checks (`check_inputs`);
- inputs: `generate` (idbsync-gen, only when missing), `truncate_lines`, `count_lines`,
  `warm` (read once, so every run sees the page cache);
- measuring: `measure` runs a command as a fresh process under a small launcher and
  returns its wall time, CPU (user+sys) and peak RSS (`Run`); `Case` holds the runs of one
  row and gives medians; `rounds` alternates the rows run by run; `progress` prints the
  per-run line on stderr;
- the report: `Session` (machine, versions, load average at start and end), `fmt_s`,
  `pct`, `with_snapshot` (runs on a private copy of the binary), `write_report`.

Standard library only (the put comparison runs on the system python3); duckdb is
imported where it is used. See benches/compare/README.md.
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
from typing import Iterable, Iterator

HERE = Path(__file__).resolve().parent
BENCHES = HERE.parent
ROOT = BENCHES.parent
DATA = BENCHES / "data"
RESULTS = BENCHES / "results"

LOAD_WARN = 1.5  # a 1-minute load average above this at the start: a warning that the numbers are noisy

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


# ---------------------------------------------------------------------------------------
# Options


def add_common_args(
    p: argparse.ArgumentParser,
    *,
    records: tuple[int, int] | None,
    runs: str,
    out: str | None,
    quick: str | None = None,
    records_help: str = "records",
) -> None:
    """The options every comparison has. `records` = (default, --quick) record counts, or
    None when the comparison has its own size options; `runs` and `out` describe the
    defaults (the comparison resolves them: `resolve_runs`, `resolve_records`)."""
    if records is not None:
        p.add_argument("--records", type=int, help=f"{records_help} (default {records[0]:,}; --quick: {records[1]:,})")
    p.add_argument(
        "--quick", action="store_true",
        help=quick or (f"{records[1]:,} records; " if records else "") + "the result file gets a -quick suffix",
    )
    p.add_argument("--runs", type=int, help=runs)
    p.add_argument("--out", type=Path, help=f"result file (default {out})")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    p.add_argument("--idbsync", type=Path, default=target / "idbsync", help="idbsync binary")
    p.add_argument("--gen", type=Path, default=target / "idbsync-gen", help="idbsync-gen binary")


def resolve_runs(p: argparse.ArgumentParser, args: argparse.Namespace, default: int) -> None:
    """`args.runs` = --runs or `default`; `args.runs_given` says whether --runs was given."""
    args.runs_given = args.runs is not None
    args.runs = args.runs if args.runs is not None else default
    if args.runs < 1:
        p.error("--runs must be at least 1")


def resolve_records(args: argparse.Namespace, default: int, quick: int) -> int:
    return args.records or (quick if args.quick else default)


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


# ---------------------------------------------------------------------------------------
# Runs and rows


@dataclass
class Run:
    wall: float
    cpu: float
    rss_kib: int
    ok: bool
    error: str = ""
    inner: float | None = None  # in-process time reported by the child (DuckDB COPY, Spark MERGE)
    out: str = ""  # the end of the command's stdout (a --json summary, the child's report)


@dataclass
class Case:
    """One row of a report: a command and its runs."""

    key: str
    tool: str  # "idbsync" | "duckdb" | …
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


class ConvertCase(Case):
    """A Case whose every successful run leaves an output that is measured and counted."""

    def __init__(self, key: str, tool: str, what: str, file: Path, argv: list[str], fname: str, records: int):
        super().__init__(key, tool, what, file, argv)
        self.fname = fname
        self.records = records  # what the input holds: the output must have exactly this many rows
        self.rows: list[int] = []
        self.rejects: list[int] = []
        self.out_bytes: list[int] = []

    def rows_cell(self) -> str:
        if not self.rows:
            return "—"
        distinct = sorted(set(self.rows))
        return " / ".join(f"{r:,}" for r in distinct)

    def check_cell(self) -> str:
        if not self.rows:
            return "—"
        bad = [r for r in self.rows if r != self.records]
        rej = max(self.rejects, default=0)
        note = f" ({rej:,} in `_rejects/`)" if rej else ""
        if bad:
            return f"**{len(bad)}/{len(self.rows)} runs ≠ {self.records:,}**{note}"
        return f"= input{note}"

    def checked_ok(self) -> bool:
        return bool(self.rows) and all(r == self.records for r in self.rows)

    def bytes_cell(self) -> str:
        if not self.out_bytes:
            return "—"
        lo, hi = min(self.out_bytes), max(self.out_bytes)
        return f"{lo / 1e6:.1f} MB" if hi - lo < 50_000 else f"{lo / 1e6:.1f}–{hi / 1e6:.1f} MB"


def rounds(runs: int, *groups: list, swap: bool = False) -> Iterator[tuple[int, object]]:
    """(round, case) for `runs` rounds over the groups of cases: tools alternate run by run,
    so that noise from other work hits all of them alike. With `swap`, every other round
    runs each group in reverse order (so no tool always goes first)."""
    for i in range(runs):
        for g in groups:
            yield from ((i, c) for c in (g[::-1] if swap and i % 2 else g))


def progress(i: int, runs: int, key: str, r: Run, note: str = "", prefix: str = "", width: int = 18) -> None:
    """The per-run line on stderr."""
    print(
        f"{prefix}run {i + 1}/{runs} {key:{width}} {r.wall:7.2f} s wall {r.cpu:7.2f} s cpu "
        f"{r.rss_kib / 1024:8.0f} MiB  {'ok' if r.ok else 'FAIL'} {note}{r.error[:120]}",
        file=sys.stderr,
    )


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
    run.out = stdout[-65536:]
    if run.ok:
        for line in reversed(stdout.splitlines()):
            if line.startswith("{") and ('"copy_s"' in line or '"inner_s"' in line):
                d = json.loads(line)
                run.inner = d.get("copy_s", d.get("inner_s"))
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


# ---------------------------------------------------------------------------------------
# Inputs and outputs


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


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(16 << 20):
            n += chunk.count(b"\n")
    return n


def warm(paths: Path | Iterable[Path]) -> None:
    """Reads files once so every measured run sees them in the page cache."""
    for path in [paths] if isinstance(paths, Path) else paths:
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass


def parquet_bytes(target: Path) -> int:
    """Bytes of a Parquet file, or of the *.parquet under a folder (without `_rejects/`)."""
    if target.is_file():
        return target.stat().st_size
    return sum(p.stat().st_size for p in target.rglob("*.parquet") if "_rejects" not in p.parts)


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


# ---------------------------------------------------------------------------------------
# The report


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


def versions(idbsync: Path, origin: Path, duckdb: bool = True) -> list[str]:
    rev = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    built = dt.datetime.fromtimestamp(idbsync.stat().st_mtime, dt.timezone.utc)
    lines = [
        f"- {sh([str(idbsync), '--version'])} (`{rel(origin)}`, built {built:%Y-%m-%d %H:%M} UTC; "
        f"tree at git {rev}{' + uncommitted changes' if dirty else ''})",
    ]
    if duckdb:
        version = sh([sys.executable, "-c", "import duckdb; print(duckdb.__version__)"])
        lines.append(f"- duckdb {version} (Python {platform.python_version()}), default threads")
    return lines + [f"- {sh(['rustc', '--version'])}"]


class Session:
    """The head of a report: when it started, the machine and the versions, and the load
    average at the start (a warning on stderr when it is high) and at the end (`end`)."""

    def __init__(self, idbsync: Path, origin: Path, duckdb: bool = True):
        self.started = dt.datetime.now(dt.timezone.utc)
        self.header = machine() + versions(idbsync, origin, duckdb)
        self.load_start = load()
        if os.getloadavg()[0] > LOAD_WARN:
            print(f"warning: load average {self.load_start} at start; the numbers will be noisy", file=sys.stderr)

    def end(self, note: str = "") -> None:
        """Appends the load average at start and end to the header (`note` after it)."""
        self.header.append(f"- load average (1/5/15 min) at start: {self.load_start}; at end: {load()}{note}")


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"


def pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{100 * a / b:.1f}%"


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
