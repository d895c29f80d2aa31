"""idbsync convert vs. DuckDB: NDJSON (and a Dexie export) -> zstd Parquet.

`bench.py convert` (benches/compare/convert-vs-duckdb.sh builds the release binaries
and the venv first). Every measurement is a fresh process under the launcher of
harness.py (`measure`), which reports its wall time, CPU (user+sys) and peak RSS; tools
alternate run by run, medians reported. Every output is counted back with DuckDB and
checked against the input's record count (exit status 1 when one differs). See
benches/compare/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harness import (
    DATA,
    DUCKDB_CHILD,
    RESULTS,
    Case,
    ConvertCase,
    Session,
    add_common_args,
    check_inputs,
    count_lines,
    fmt_s,
    generate,
    measure,
    parquet_bytes,
    pct,
    progress,
    rel,
    resolve_records,
    resolve_runs,
    rounds,
    truncate_lines,
    warm,
)
from infer_vs_duckdb import TRUNCATE_FRACTION

HELP = "the whole conversion vs. DuckDB (convert-vs-duckdb.sh)"
DEFAULT_RECORDS = 1_000_000
QUICK_RECORDS = 200_000
MEMORY_FACTOR = 4  # --memory: a file with 4x the records (4M by default, ~1.6 GB)
RSS_GROWTH_TARGET = 0.10  # peak RSS on the 4x file: at most 10% above the 1x file


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=(DEFAULT_RECORDS, QUICK_RECORDS), runs="runs per row (default 5)",
        out="benches/results/<date>-convert[-quick|-memory].md",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help=f"also convert a {MEMORY_FACTOR}x NDJSON file (4M records, ~1.6 GB) and compare its peak RSS "
        "with the 1x file; result file gets a -memory suffix",
    )


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    resolve_runs(p, args, 5)
    check_inputs(p, args)


def duck_count(target: Path) -> tuple[int, int]:
    """(data rows, rejected rows) of a Parquet file or of every *.parquet under a folder.

    The count is `SELECT count(*) FROM read_parquet('dir/**/*.parquet')`, with the
    files under an idbsync `_rejects/` folder (quarantined records) counted apart.
    """
    import duckdb

    glob = str(target / "**" / "*.parquet") if target.is_dir() else str(target)
    q = "'" + glob.replace("'", "''") + "'"
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT count(*) FILTER (WHERE filename NOT LIKE '%/_rejects/%'), "
            f"count(*) FILTER (WHERE filename LIKE '%/_rejects/%') "
            f"FROM read_parquet({q}, filename=true)"
        ).fetchone()
    finally:
        con.close()
    return int(rows[0]), int(rows[1])



def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path, bool]:
    records = resolve_records(args, DEFAULT_RECORDS, QUICK_RECORDS)
    full = DATA / f"orders-{records}.ndjson"
    part_lines = int(records * TRUNCATE_FRACTION)
    part = DATA / f"orders-{records}-first90.ndjson"
    dexie = DATA / f"orders-dexie-{records}.json"
    big_records = records * MEMORY_FACTOR
    big = DATA / f"orders-{big_records}.ndjson"

    generate(gen, full, ["--records", str(records), "--format", "ndjson"])
    truncate_lines(full, part, part_lines)
    generate(gen, dexie, ["--records", str(records), "--format", "dexie"])
    inputs = [part, full, dexie]
    if args.memory:
        generate(gen, big, ["--records", str(big_records), "--format", "ndjson"])
        inputs.append(big)
    # The NDJSON files' record counts are their line counts (checked, not assumed).
    for f, want in ((full, records), (part, part_lines)) + (((big, big_records),) if args.memory else ()):
        have = count_lines(f)
        if have != want:
            raise SystemExit(f"{rel(f)} has {have:,} lines, expected {want:,}: delete it and rerun")
    warm(inputs)

    work = Path(tempfile.mkdtemp(prefix="convert-out-", dir=DATA))
    duck_out = work / "out.parquet"
    idb_out = work / "idbsync-out"

    def duck(src: Path, sample: str) -> list[str]:
        return [sys.executable, "-c", DUCKDB_CHILD, str(src), str(duck_out), sample]

    def idb(src: Path) -> list[str]:
        return [str(idbsync), "convert", str(src), "--out", str(idb_out), "-q"]

    conv = "`idbsync convert`"
    dd, ds = "DuckDB COPY, default sampling", "DuckDB COPY, `sample_size=-1`"
    cases = [
        ConvertCase("idb_part", "idbsync", conv, part, idb(part), "first 90%", part_lines),
        ConvertCase("duck_part_default", "duckdb", dd, part, duck(part, "default"), "first 90%", part_lines),
        ConvertCase("idb_full", "idbsync", conv, full, idb(full), "full", records),
        ConvertCase("duck_full_default", "duckdb", dd, full, duck(full, "default"), "full", records),
        ConvertCase("duck_full_scan", "duckdb", ds, full, duck(full, "-1"), "full", records),
        ConvertCase("idb_dexie", "idbsync", conv, dexie, idb(dexie), "Dexie export", records),
    ]
    if args.memory:
        cases.append(ConvertCase("idb_big", "idbsync", conv, big, idb(big), f"{MEMORY_FACTOR}× NDJSON", big_records))
    # Python + `import duckdb` alone, to show what of a DuckDB wall time is start-up.
    startup = Case("startup", "duckdb", "python -c 'import duckdb'", full, [sys.executable, "-c", "import duckdb"])
    by = {c.key: c for c in cases}

    session = Session(idbsync, origin)
    started = session.started
    try:
        for i, c in rounds(args.runs, cases + [startup]):
            for p in (duck_out, idb_out):  # fresh output for every run
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            r = measure(c.argv)
            c.runs.append(r)
            out = idb_out if c.tool == "idbsync" else duck_out
            extra = ""
            if isinstance(c, ConvertCase) and r.ok:
                if out.exists():
                    rows, rej = duck_count(out)
                    c.rows.append(rows)
                    c.rejects.append(rej)
                    c.out_bytes.append(parquet_bytes(out))
                    extra = f"{rows:,} rows{'' if rows == c.records else ' MISMATCH'}"
                else:
                    c.rows.append(0)
                    extra = "NO OUTPUT"
            progress(i, args.runs, c.key, r, extra)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    session.end(" (other work shares the machine)")

    size = {f: f.stat().st_size for f in inputs}
    mode = " --memory" if args.memory else ""
    lines = [
        f"# idbsync convert vs. DuckDB, NDJSON / Dexie → zstd Parquet — {started:%Y-%m-%d}",
        "",
        f"Generated by `benches/compare/convert-vs-duckdb.sh{mode}{' --quick' if args.quick else ''}"
        f"{f' --records {args.records}' if args.records else ''}{f' --runs {args.runs}' if args.runs != 5 else ''}`"
        f" at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *session.header,
        f"- inputs (all in the page cache): `idbsync-gen --records {records} --format ndjson` = `{rel(full)}` "
        f"({size[full] / 1e6:.0f} MB, {records:,} lines); `{rel(part)}` = its first {part_lines:,} lines "
        f"({size[part] / 1e6:.0f} MB); `idbsync-gen --records {records} --format dexie` = `{rel(dexie)}` "
        f"({size[dexie] / 1e6:.0f} MB, the same {records:,} records as a Dexie export)"
        + (
            f"; `idbsync-gen --records {big_records} --format ndjson` = `{rel(big)}` "
            f"({size[big] / 1e6:.0f} MB, {big_records:,} lines)."
            if args.memory
            else "."
        ),
        f"- {args.runs} runs per row, tools alternating run by run; median wall and median CPU (user+sys of the "
        "command and its children, through a small launcher) over the successful runs; peak RSS = max `ru_maxrss` "
        "over all runs.",
        "- `idbsync convert FILE --out DIR -q` (all cores; infers the schema over the whole input, then converts: "
        "zstd level 3, 122,880-row groups) into a fresh DIR every run, deleted after. DuckDB: "
        "`COPY (SELECT * FROM read_json_auto(FILE[, sample_size=-1])) TO out.parquet (FORMAT parquet, "
        "COMPRESSION zstd)` in a fresh `python -c` child (wall and RSS include the interpreter).",
        "- output = bytes of the Parquet files written; rows = `SELECT count(*) FROM read_parquet('DIR/**/*.parquet')` "
        "with DuckDB after every successful run, checked against the input's record count.",
        "",
        "| input | tool | wall (median) | CPU (median) | peak RSS | output | rows | check | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for c in cases:
        res = (c.failure() or "ok").replace("|", "\\|")
        lines.append(
            f"| {c.fname} | {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | {c.max_rss_mib():.0f} MiB | "
            f"{c.bytes_cell()} | {c.rows_cell()} | {c.check_cell()} | {res} |"
        )
    lines.append(
        f"| — | {startup.what} | {startup.wall_cell()} | {fmt_s(startup.median_cpu())} | "
        f"{startup.max_rss_mib():.0f} MiB | — | — | — | {startup.failure() or 'ok'} |"
    )

    def ratio_row(label: str, a: Case, b: Case) -> str:
        aw, bw, ac, bc = a.median_wall(), b.median_wall(), a.median_cpu(), b.median_cpu()
        if aw is None:
            return f"| {label} | idbsync fails | — | — |"
        if bw is None:
            return f"| {label} | DuckDB fails | — | — |"
        return f"| {label} | {pct(aw, bw)} | {pct(ac, bc)} | {bw / aw:.1f}× wall, {bc / ac:.1f}× CPU |"

    lines += [
        "",
        "Ratios: idbsync convert / DuckDB COPY of the same file (lower is better for idbsync).",
        "",
        "| file, DuckDB setting | wall | CPU | DuckDB / idbsync |",
        "| --- | ---: | ---: | ---: |",
        ratio_row("first 90%, default sampling", by["idb_part"], by["duck_part_default"]),
        ratio_row("full, default sampling", by["idb_full"], by["duck_full_default"]),
        ratio_row("full, `sample_size=-1` (a whole-file schema, as idbsync)", by["idb_full"], by["duck_full_scan"]),
    ]
    fail = by["duck_full_default"].failure()
    if fail:
        lines += [
            "",
            "DuckDB's default sampling (the first 20,480 rows) fails on the full file: `giftMessage` first "
            "appears at 90% of the records (and `lateKey` / a string `customerId` in the last one). It fails "
            f"after {statistics.median(r.wall for r in by['duck_full_default'].runs):.2f} s (median). "
            f"Error: `{fail}`.",
        ]
    else:
        lines += ["", "DuckDB's default sampling did **not** fail on the full file this time."]

    def tp_row(c: Case) -> str:
        w, cpu = c.median_wall(), c.median_cpu()
        s = size[c.file]
        if w is None:
            return f"| {c.fname} ({rel(c.file)}) | {s / 1e6:.0f} MB | {c.records:,} | — | — | — | — |"
        return (
            f"| {c.fname} (`{c.file.name}`) | {s / 1e6:.0f} MB | {c.records:,} | {w:.2f} s | "
            f"{s / 1e6 / w:.0f} MB/s | {c.records / w / 1e3:.0f} k/s | {c.records / cpu / 1e3:.0f} k/s |"
        )

    nd, dx = by["idb_full"], by["idb_dexie"]
    lines += [
        "",
        "idbsync convert throughput, Dexie export vs. NDJSON of the same records (median wall; "
        "records per CPU-second from the median CPU time).",
        "",
        "| input | size | records | wall | MB/s (input) | records/s | records/CPU-s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        tp_row(nd),
        tp_row(dx),
    ]
    if args.memory:
        lines.append(tp_row(by["idb_big"]))
    if nd.median_wall() and dx.median_wall():
        lines += [
            "",
            f"Dexie / NDJSON: {nd.median_wall() / dx.median_wall():.2f}× the records/s "
            f"({size[dexie] / size[full]:.2f}× the bytes per record, "
            f"{(size[dexie] / dx.median_wall()) / (size[full] / nd.median_wall()):.2f}× the MB/s).",
        ]

    if args.memory:
        small, bigc = by["idb_full"], by["idb_big"]
        a, b = small.max_rss_mib(), bigc.max_rss_mib()
        growth = (b - a) / a if a else float("nan")
        ok = growth <= RSS_GROWTH_TARGET
        lines += [
            "",
            f"Peak RSS of `idbsync convert`, {big_records:,} vs. {records:,} records "
            f"(target: at most {RSS_GROWTH_TARGET:.0%} more; a streaming conversion must not grow with the input).",
            "",
            "| input | size | peak RSS (max over runs) | runs' peak RSS | vs. 1× | ≤ +10%? |",
            "| --- | ---: | ---: | --- | ---: | :---: |",
            f"| {records:,} records NDJSON | {size[full] / 1e6:.0f} MB | {a:.0f} MiB | "
            f"{', '.join(f'{r.rss_kib / 1024:.0f}' for r in small.runs)} MiB | — | — |",
            f"| {big_records:,} records NDJSON | {size[big] / 1e6:.0f} MB | {b:.0f} MiB | "
            f"{', '.join(f'{r.rss_kib / 1024:.0f}' for r in bigc.runs)} MiB | {growth:+.1%} | "
            f"{'yes' if ok else '**no**'} |",
        ]

    all_ok = all(c.checked_ok() for c in cases if c.ok_runs())
    lines += [
        "",
        "Row-count check: "
        + ("every successful output has exactly the input's record count." if all_ok else "**some outputs do not "
           "have the input's record count — see the `check` column.**"),
    ]
    suffix = "-memory" if args.memory else ("-quick" if args.quick else "")
    return "\n".join(lines) + "\n", RESULTS / f"{started:%Y-%m-%d}-convert{suffix}.md", all_ok
