"""idbsync convert vs. the DuckDB CLI on every shape of the generator (issue 16).

`bench.py shapes` (benches/compare/convert-shapes.sh builds the release binaries and the
venv first). For each shape, `idbsync-gen --shape SHAPE --records N` writes an NDJSON
file; then `idbsync convert`, DuckDB's `COPY (SELECT * FROM read_json_auto(F)) TO ...`
with its default sampling and the same with `sample_size=-1` convert it to zstd Parquet,
alternating run by run, each a fresh process under the launcher of harness.py
(`measure`: wall, CPU, peak RSS). DuckDB is the CLI binary of the `duckdb-cli` package,
run directly (no Python start-up in its times). The Dexie export of the orders is
converted by idbsync alone: DuckDB cannot read one. Every output is counted back and
checked against the input's record count (exit status 1 when one differs). See
benches/compare/README.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import shutil
import statistics
import tempfile
from pathlib import Path

from convert_vs_duckdb import duck_count
from harness import (
    DATA,
    RESULTS,
    ConvertCase,
    Session,
    add_common_args,
    check_inputs,
    count_lines,
    fmt_s,
    generate,
    measure,
    parquet_bytes,
    progress,
    rel,
    resolve_records,
    resolve_runs,
    rounds,
    sh,
    warm,
)

HELP = "convert vs. the DuckDB CLI on every generator shape (convert-shapes.sh)"
DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 100_000
# The shapes of issue 16, in report order; `orders` (the generator's default, with late keys
# like orders-late's) can be asked for with --shapes. `dexie`: the Dexie export of DEXIE_SHAPE.
SHAPES = ["orders-steady", "orders-late", "wide-sparse", "logs", "telemetry", "nested"]
ALL_SHAPES = ["orders", *SHAPES]
DEXIE = "dexie"
DEXIE_SHAPE = "orders-steady"
DEFAULT_SELECTION = [*SHAPES, DEXIE]
NO_DEXIE_IN_DUCKDB = (
    "not run: DuckDB cannot read a Dexie export directly (its rows sit inside one JSON document, "
    "`data.data[].rows`, with typeson `$types`)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=(DEFAULT_RECORDS, QUICK_RECORDS), runs="runs per row (default 5)",
        out="benches/results/<date>-convert-shapes[-quick].md", records_help="records per shape",
    )
    p.add_argument(
        "--shapes",
        help=f"comma-separated: any of {', '.join(ALL_SHAPES)}, and `{DEXIE}` (the Dexie export of "
        f"{DEXIE_SHAPE}, idbsync only) (default {','.join(DEFAULT_SELECTION)})",
    )
    p.add_argument(
        "--duckdb", type=Path,
        help="the DuckDB CLI binary (default: the binary of the duckdb-cli package in this Python's venv)",
    )
    p.add_argument("--timeout", type=float, help="seconds per run (default max(180, 0.4 s per MB of input))")


def duckdb_cli() -> Path | None:
    """The DuckDB CLI binary that the PyPI package `duckdb-cli` installs: the executable
    `duckdb` inside the package (its `bin/duckdb` is a Python wrapper that starts it)."""
    try:
        import duckdb_cli as pkg
    except ImportError:
        return None
    exe = Path(pkg.__file__).resolve().parent / "duckdb"
    return exe if exe.is_file() else None


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    resolve_runs(p, args, 5)
    check_inputs(p, args)  # the binaries, and the duckdb module that counts the outputs
    chosen = [s.strip() for s in (args.shapes or ",".join(DEFAULT_SELECTION)).split(",") if s.strip()]
    unknown = [s for s in chosen if s not in ALL_SHAPES and s != DEXIE]
    if unknown or not chosen:
        choices = ", ".join([*ALL_SHAPES, DEXIE])
        p.error(f"--shapes: unknown {', '.join(unknown) or '(none given)'}; choose from {choices}")
    args.shape_list = list(dict.fromkeys(chosen))
    args.duckdb = args.duckdb or duckdb_cli()
    if args.duckdb is None or not args.duckdb.is_file():
        p.error("no DuckDB CLI: run benches/compare/setup-venv.sh (duckdb-cli) and use benches/.venv/bin/python, "
                "or pass --duckdb")


def q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def copy_sql(src: Path, out: Path, full_scan: bool) -> str:
    opts = ", sample_size=-1" if full_scan else ""
    read = f"read_json_auto({q(str(src))}{opts})"
    return f"COPY (SELECT * FROM {read}) TO {q(str(out))} (FORMAT parquet, COMPRESSION zstd)"


def input_file(shape: str, records: int, dexie: bool) -> Path:
    # `orders` keeps the names the other comparisons give the same files.
    return DATA / (f"{shape}-dexie-{records}.json" if dexie else f"{shape}-{records}.ndjson")


def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path, bool]:
    records = resolve_records(args, DEFAULT_RECORDS, QUICK_RECORDS)
    duck = args.duckdb.resolve()
    inputs: dict[str, Path] = {}
    for sel in args.shape_list:
        shape, dexie = (DEXIE_SHAPE, True) if sel == DEXIE else (sel, False)
        f = input_file(shape, records, dexie)
        fmt = "dexie" if dexie else "ndjson"
        generate(gen, f, ["--shape", shape, "--records", str(records), "--format", fmt])
        if not dexie and (have := count_lines(f)) != records:
            raise SystemExit(f"{rel(f)} has {have:,} lines, expected {records:,}: delete it and rerun")
        inputs[sel] = f
    warm(inputs.values())

    work = Path(tempfile.mkdtemp(prefix="convert-shapes-", dir=DATA))
    duck_out = work / "out.parquet"
    idb_out = work / "idbsync-out"
    largest = max(f.stat().st_size for f in inputs.values())
    timeout = args.timeout or max(180.0, 0.4 * largest / 1e6)

    groups: dict[str, list[ConvertCase]] = {}
    for sel, f in inputs.items():
        idb = [str(idbsync), "convert", str(f), "--out", str(idb_out), "-q"]
        cases = [ConvertCase("idbsync", "idbsync", "`idbsync convert`", f, idb, sel, records)]
        if sel != DEXIE:
            for key, what, full in (("duckdb", "DuckDB CLI, default sampling", False),
                                    ("duckdb_full", "DuckDB CLI, `sample_size=-1`", True)):
                argv = [str(duck), "-no-init", "-c", copy_sql(f, duck_out, full)]
                cases.append(ConvertCase(key, "duckdb", what, f, argv, sel, records))
        groups[sel] = cases

    session = Session(idbsync, origin, duckdb=False)
    started = session.started
    try:
        for sel, cases in groups.items():
            failed: set[str] = set()
            for i, c in rounds(args.runs, cases, swap=True):
                if c.key in failed:
                    continue  # a failure does not change from run to run: recorded once
                for p in (duck_out, idb_out, work / ".tmp"):  # fresh output for every run
                    shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
                r = measure(c.argv, cwd=work, timeout=timeout)
                c.runs.append(r)
                out = idb_out if c.tool == "idbsync" else duck_out
                extra = ""
                if r.ok:
                    if out.exists():
                        rows, rej = duck_count(out)
                        c.rows.append(rows)
                        c.rejects.append(rej)
                        c.out_bytes.append(parquet_bytes(out))
                        extra = f"{rows:,} rows{'' if rows == c.records else ' MISMATCH'} "
                    else:
                        c.rows.append(0)
                        extra = "NO OUTPUT "
                else:
                    failed.add(c.key)
                progress(i, args.runs, f"{sel} {c.key}", r, extra, width=26)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    session.end(" (other work shares the machine)")

    report = render(args, records, inputs, groups, session, duck, timeout)
    all_ok = all(c.checked_ok() for cases in groups.values() for c in cases if c.ok_runs())
    suffix = "-quick" if args.quick else ""
    return report, RESULTS / f"{started:%Y-%m-%d}-convert-shapes{suffix}.md", all_ok


def median_rss(c: ConvertCase) -> str:
    runs = c.ok_runs() or c.runs
    return f"{statistics.median(r.rss_kib for r in runs) / 1024:.0f} MiB" if runs else "—"


def out_bytes(c: ConvertCase) -> str:
    if not c.out_bytes:
        return "—"
    lo, hi = min(c.out_bytes), max(c.out_bytes)
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def ratio(a: ConvertCase, b: ConvertCase | None) -> str:
    """`idbsync / DuckDB` of the median wall and CPU times, or why there is none."""
    if b is None:
        return "—"
    aw, bw, ac, bc = a.median_wall(), b.median_wall(), a.median_cpu(), b.median_cpu()
    if aw is None:
        return "idbsync fails"
    if bw is None:
        return "DuckDB fails"
    return f"{aw / bw:.2f} ({ac / bc:.2f})"


def render(
    args: argparse.Namespace,
    records: int,
    inputs: dict[str, Path],
    groups: dict[str, list[ConvertCase]],
    session: Session,
    duck: Path,
    timeout: float,
) -> str:
    started = session.started
    default_cli = duckdb_cli()
    if default_cli is not None and duck == default_cli:
        origin_note = f"the CLI binary of the PyPI package duckdb-cli {importlib.metadata.version('duckdb-cli')}"
    else:
        origin_note = "the CLI binary given by `--duckdb`"
    try:
        counter = importlib.metadata.version("duckdb")
    except importlib.metadata.PackageNotFoundError:
        counter = "?"
    cmd = "benches/compare/convert-shapes.sh" + (" --quick" if args.quick else "")
    cmd += f" --records {args.records}" if args.records else ""
    cmd += f" --shapes {','.join(args.shape_list)}" if args.shapes else ""
    cmd += f" --runs {args.runs}" if args.runs != 5 else ""
    sizes = "; ".join(
        f"{sel}: `{rel(f)}` ({f.stat().st_size / 1e6:.0f} MB)" for sel, f in inputs.items()
    )
    lines = [
        f"# idbsync convert vs. the DuckDB CLI, by shape of the input — {started:%Y-%m-%d}",
        "",
        f"Generated by `{cmd}` at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *session.header,
        f"- DuckDB: `{sh([str(duck), '--version'])}`, {origin_note} (`{rel(duck)}`), run directly: no Python "
        f"start-up in its times; default threads. Outputs counted with the duckdb Python package {counter}.",
        f"- inputs, {records:,} records each, `idbsync-gen --shape SHAPE --records {records} --format ndjson` "
        f"(seed 42; `{DEXIE}` = `--shape {DEXIE_SHAPE} --format dexie`), in the page cache: {sizes}.",
        f"- {args.runs} run{'s' if args.runs != 1 else ''} per row, the rows of a shape alternating run by run "
        "(every other round in reverse order); median wall, CPU (user+sys of the command and its children, "
        "through a small launcher) and peak RSS over the successful runs. A failing command is run once (its "
        f"failure does not change). Timeout {timeout:.0f} s per run.",
        "- `idbsync convert FILE --out DIR -q` (all cores, whole-file inference) into a fresh DIR every run; "
        "DuckDB: `duckdb -no-init -c \"COPY (SELECT * FROM read_json_auto('FILE'[, sample_size=-1])) TO "
        "'out.parquet' (FORMAT parquet, COMPRESSION zstd)\"`, an in-memory database, in a fresh folder.",
        "- output = bytes of the Parquet written (idbsync: all its files, `_rejects/` excepted; DuckDB: its one "
        "file); rows = `SELECT count(*) FROM read_parquet(...)` after every successful run, checked against the "
        "input's record count.",
        "",
        "| shape | tool | wall | CPU | peak RSS | output bytes | rows | check | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for sel, cases in groups.items():
        for c in cases:
            res = (c.failure() or "ok").replace("|", "\\|")
            lines.append(
                f"| {sel} | {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | {median_rss(c)} | "
                f"{out_bytes(c)} | {c.rows_cell()} | {c.check_cell()} | {res} |"
            )
        if sel == DEXIE:
            lines.append(f"| {sel} | DuckDB CLI | — | — | — | — | — | — | {NO_DEXIE_IN_DUCKDB} |")

    lines += [
        "",
        "Per shape: idbsync / DuckDB as the ratio of median wall times (of CPU times in brackets); below 1: "
        "idbsync is faster. Issue 16's goal: below 1 against DuckDB's default on every shape.",
        "",
        "| shape | idbsync wall | DuckDB default wall | idbsync / default | DuckDB `sample_size=-1` wall | "
        "idbsync / full scan | idbsync Parquet bytes | DuckDB Parquet bytes (default / full scan) | "
        "DuckDB default |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    faster, compared = [], []
    for sel, cases in groups.items():
        by = {c.key: c for c in cases}
        idb, dd, df = by["idbsync"], by.get("duckdb"), by.get("duckdb_full")
        if dd is None:
            lines.append(
                f"| {sel} | {idb.wall_cell()} | — | — | — | — | {out_bytes(idb)} | — | {NO_DEXIE_IN_DUCKDB} |"
            )
            continue
        fail = " / ".join(sorted({r.error for r in dd.runs if not r.ok})).replace("|", "\\|")
        if idb.median_wall() is not None and dd.median_wall() is not None:
            compared.append(sel)
            if idb.median_wall() < dd.median_wall():
                faster.append(sel)
        lines.append(
            f"| {sel} | {idb.wall_cell()} | {dd.wall_cell()} | {ratio(idb, dd)} | {df.wall_cell()} | "
            f"{ratio(idb, df)} | {out_bytes(idb)} | {out_bytes(dd)} / {out_bytes(df)} | "
            f"{'fails: ' + fail if fail else 'ok'} |"
        )
    failing = [sel for sel, cases in groups.items() for c in cases if c.key == "duckdb" and c.failure()]
    lines += [
        "",
        f"idbsync is faster than DuckDB's default on {len(faster)} of the {len(compared)} shapes where both "
        f"succeeded{': ' + ', '.join(faster) if faster else ''}."
        + (f" DuckDB's default fails on {', '.join(failing)} (see the last column)." if failing else ""),
    ]
    all_ok = all(c.checked_ok() for cases in groups.values() for c in cases if c.ok_runs())
    lines += [
        "",
        "Row-count check: "
        + ("every successful output has exactly the input's record count." if all_ok else "**some outputs do not "
           "have the input's record count — see the `check` column.**"),
    ]
    return "\n".join(lines) + "\n"
