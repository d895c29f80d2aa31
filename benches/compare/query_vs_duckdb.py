"""SQL previews: `idbsync query` vs. the DuckDB CLI on the same Parquet files.

`bench.py query` (benches/compare/query-vs-duckdb.sh builds the release binaries and the
venv first). The dataset is generated orders converted by idbsync (zstd,
`--detect-timestamps`): 1M by default, `--records 10000000` for the size where the
engines rather than start-up decide. Each measurement is a whole fresh process, as a
user runs it: `idbsync query ROOT SQL` against the DuckDB CLI binary (PyPI `duckdb-cli`,
the executable itself, so no Python start-up is timed) running the same SQL over
`read_parquet(glob)` and printing every row as JSON. Tools alternate run by run; medians
are reported. The answers are compared (row counts, and for the group-bys the first
group's value) so that a fast wrong answer does not count. compare.py embeds the same
measurement (`section`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from convert_shapes import duckdb_cli

from harness import (
    DATA,
    RESULTS,
    Case,
    Session,
    add_common_args,
    check_inputs,
    fmt_s,
    generate,
    measure,
    progress,
    resolve_records,
    resolve_runs,
    rounds,
)

HELP = "SQL previews vs. DuckDB (query-vs-duckdb.sh)"

DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 200_000
PREVIEW_GOAL = 1.0  # preview no slower than DuckDB
GROUP_GOAL = 1.2  # group-by within 1.2x of DuckDB



def duck_argv(duckdb: Path, glob: str, sql: str) -> list[str]:
    """The DuckDB CLI running `sql` over the Parquet files of `glob` as the view
    `orders`, printing every row as JSON."""
    script = (
        "SET TimeZone = 'UTC'; "
        f"CREATE VIEW orders AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true); {sql};"
    )
    return [str(duckdb), "-json", "-c", script]


QUERIES = [
    ("preview", "a preview: `SELECT * FROM orders LIMIT 20`", "SELECT * FROM orders LIMIT 20", PREVIEW_GOAL),
    (
        "groupby",
        "a group-by: count, sum and average of `total` per `status`",
        "SELECT status, count(*) AS n, sum(total) AS total, avg(total) AS mean FROM orders GROUP BY status ORDER BY status",
        GROUP_GOAL,
    ),
    (
        "nested",
        "a group-by on a nested field: orders per `shipping.city`",
        "SELECT shipping['city'] AS city, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1",
        GROUP_GOAL,
    ),
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=(DEFAULT_RECORDS, QUICK_RECORDS), records_help="orders",
        quick="a small dataset; the result file gets a -quick suffix",
        runs="runs per query and tool (default 5)", out="benches/results/<date>-query[-quick].md",
    )


    p.add_argument(
        "--duckdb", type=Path,
        help="the DuckDB CLI binary (default: the binary of the duckdb-cli package in this Python's venv)",
    )


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    resolve_runs(p, args, 5)
    check_inputs(p, args)
    args.duckdb = args.duckdb or duckdb_cli()
    if args.duckdb is None or not args.duckdb.is_file():
        p.error("no DuckDB CLI: run benches/compare/setup-venv.sh (duckdb-cli) and use benches/.venv/bin/python, "
                "or pass --duckdb")


def duck_sql(sql: str) -> str:
    return sql.replace("shipping['city']", "shipping.city")


def dataset(idbsync: Path, gen: Path, records: int) -> Path:
    src = DATA / f"orders-{records}.ndjson"
    generate(gen, src, ["--records", str(records), "--format", "ndjson"])
    out = DATA / f"query-dataset-{records}"
    if not (out / "orders" / "_SUCCESS").exists():
        subprocess.run(
            [str(idbsync), "convert", str(src), "--out", str(out), "--store", "orders", "--mode", "overwrite",
             "--detect-timestamps", "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )
    return out


def cli_version(duckdb: Path) -> str:
    """The CLI's version line (`v1.5.6 (…) …`), or `version unknown`."""
    out = subprocess.run([str(duckdb), "--version"], capture_output=True, text=True).stdout.strip()
    return f"DuckDB {out}" if out else "version unknown"


def answer(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def section(records: int, runs: int, idbsync: Path, gen: Path, duckdb: Path) -> list[str]:
    """Measures the queries on `records` orders and returns the report's section
    (a heading, how it was measured, the table); compare.py embeds it too."""
    root = dataset(idbsync, gen, records)
    glob = f"{root}/orders/**/*.parquet"
    cases: list[tuple[str, str, float, Case, Case]] = []
    for key, what, sql, goal in QUERIES:
        ours = Case(f"{key}-idbsync", "idbsync", "idbsync query", root, [str(idbsync), "query", str(root), sql])
        theirs = Case(f"{key}-duckdb", "duckdb", "DuckDB CLI", root, duck_argv(duckdb, glob, duck_sql(sql)))
        cases.append((key, what, goal, ours, theirs))

    # The answers first: the same number of rows, and the same group-by values.
    checks = []
    for key, _, _, ours, theirs in cases:
        mine = answer([*ours.argv, "--format", "json", "--limit", "0"])
        rows = json.loads(mine)
        duck = json.loads(answer(theirs.argv) or "[]")
        ok = len(rows) == len(duck)
        if key != "preview" and rows:
            ok = ok and str(next(iter(rows[0].values()))) == str(next(iter(duck[0].values())))
        checks.append((key, ok, len(rows), len(duck)))

    for i, c in rounds(runs, *([ours, theirs] for _, _, _, ours, theirs in cases), swap=True):
        r = measure(c.argv)
        c.runs.append(r)
        progress(i, runs, c.key, r, prefix="query ", width=16)
    size = sum(p.stat().st_size for p in (root / "orders").rglob("*.parquet"))
    lines = [
        "## SQL previews: idbsync query vs. DuckDB",
        "",
        f"- data: {records:,} generated orders converted by idbsync (zstd, `--detect-timestamps`): "
        f"{size / 1e6:.0f} MB of Parquet, in the page cache",
        "- each run is a whole fresh process: `idbsync query ROOT SQL` (DataFusion) vs. the DuckDB CLI binary "
        f"(`{duckdb.name} -json -c`, {cli_version(duckdb)} from PyPI duckdb-cli) reading the same files with "
        "`read_parquet(glob)` and printing every row",
        f"- {runs} runs per query and tool, alternating; medians; the answers are compared first (rows, and the "
        "first group's value)",
        "",
        "| query | idbsync | DuckDB | idbsync / DuckDB | goal | met? | idbsync peak RSS | DuckDB peak RSS | same answer |",
        "| --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | :---: |",
    ]
    for (key, what, goal, ours, theirs), (_, ok, n1, n2) in zip(cases, checks):
        a, b = ours.median_wall(), theirs.median_wall()
        ratio = a / b if a and b else None
        met = "yes" if ratio is not None and ratio <= goal else "**no**"
        lines.append(
            f"| {what} | {fmt_s(a)} | {fmt_s(b)} | {f'{ratio:.2f}' if ratio else '—'} | ≤ {goal:.1f} | {met} | "
            f"{ours.max_rss_mib():.0f} MiB | {theirs.max_rss_mib():.0f} MiB | {'yes' if ok else f'**no** ({n1} vs {n2} rows)'} |"
        )
    return lines


def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path]:
    records = resolve_records(args, DEFAULT_RECORDS, QUICK_RECORDS)
    session = Session(idbsync, origin)
    started = session.started
    table = section(records, args.runs, idbsync, gen, args.duckdb)
    session.end()
    lines = [
        f"# SQL previews: idbsync query vs. DuckDB — {started:%Y-%m-%d}",
        "",
        f"Generated by `benches/compare/query-vs-duckdb.sh{' --quick' if args.quick else ''}` at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *session.header,
        *table[1:],
    ]
    suffix = "-quick" if args.quick else ""
    return "\n".join(lines) + "\n", RESULTS / f"{started:%Y-%m-%d}-query{suffix}.md"
