"""The Markdown report of `bench.py compare` (compare.py).

`render` writes the head (command, machine, versions, method), the chart, then every
function of SECTIONS in order; each takes the Results and returns Markdown lines. The
SQL-preview comparison with DuckDB (query_vs_duckdb.section) and the HDFS-upload one
with FsShell (put_vs_fsshell.section) render their own sections, placed by `embedded`.
"""

from __future__ import annotations

from typing import Callable

from harness import fmt_s, pct


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def esc(s: str) -> str:
    return s.replace("|", "\\|")


def rss(c) -> str:
    return f"{c.max_rss_mib():,.0f} MiB" if c.runs else "—"


def check_cell(size, c) -> str:
    ref = size.ref()
    if c.metrics is None:
        return "—"
    diff = c.diff(None if c.key == "idbsync" else ref)
    if diff:
        return "**rows/keys lost**: " + esc("; ".join(diff))
    if c.key == "idbsync":
        return "rows = input lines"
    return "= idbsync" if ref is not None else "rows = input lines (no idbsync checksum to compare)"


def result_cell(c) -> str:
    if c.stopped and not c.runs:
        return esc(c.stopped)
    if c.failure():
        return esc(c.failure())
    return esc(c.note or f"ok ({len(c.runs)} run{'s' if len(c.runs) > 1 else ''})")


def conversion_table(res) -> list[str]:
    lines = [
        "## NDJSON → zstd Parquet",
        "",
        "| input | tool | wall (median) | CPU (median) | peak RSS | output | rows | check | result |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for s in res.sizes:
        for c in s.cases:
            if c.t.extra:
                continue
            lines.append(
                f"| {s.records:,} ({mb(s.ndjson_bytes)}) | {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | "
                f"{rss(c)} | {c.bytes_cell()} | {c.rows_cell()} | {check_cell(s, c)} | {result_cell(c)} |"
            )
    return lines


def ratio_table(res) -> list[str]:
    peers = [c for c in res.sizes[0].cases if c.t.peer]
    lines = [
        "## idbsync against each peer",
        "",
        "idbsync's median wall time and peak RSS as a share of the peer's on the same file (below 100%: idbsync "
        "is faster / smaller).",
        "",
        "| records | " + " | ".join(c.what for c in peers) + " |",
        "| --- |" + " ---: |" * len(peers),
    ]
    for s in res.sizes:
        idb = s.case("idbsync")
        cells = []
        for p in peers:
            c = s.case(p.key)
            if c is None or not c.runs:
                cells.append("not run")
            elif c.median_wall() is None:
                cells.append("peer fails")
            elif idb is None or idb.median_wall() is None:
                cells.append("idbsync fails")
            else:
                w, m = pct(idb.median_wall(), c.median_wall()), pct(idb.max_rss_mib(), c.max_rss_mib())
                cells.append(f"wall {w}, RSS {m}")
        lines.append(f"| {s.records:,} | " + " | ".join(cells) + " |")
    return lines


def verdict(res) -> list[str]:
    lines = ["## What the numbers show", ""]
    for s in res.sizes:
        idb = s.case("idbsync")
        if idb is None or idb.median_wall() is None:
            lines.append(f"- **{s.records:,} records: idbsync failed** ({idb.failure() if idb else 'not run'}).")
            continue
        done = [c for c in s.cases if c.t.peer and c.median_wall() is not None]
        faster = [c for c in done if c.median_wall() < idb.median_wall()]
        leaner = [c for c in done if c.max_rss_mib() < idb.max_rss_mib()]
        failed = [c.what for c in s.cases if c.t.peer and c.runs and c.median_wall() is None]
        lost = [c.what for c in done if c.diff(s.ref())]
        w = (
            f"the fastest of the {len(done) + 1} tools that finished"
            if not faster
            else "**not the fastest**: " + ", ".join(f"{c.what} {fmt_s(c.median_wall())}" for c in faster)
        )
        m = "the lowest peak RSS" if not leaner else "**not the lowest peak RSS**: " + ", ".join(
            f"{c.what} {c.max_rss_mib():,.0f} MiB" for c in leaner
        )
        lines.append(
            f"- {s.records:,} records ({mb(s.ndjson_bytes)}): idbsync {fmt_s(idb.median_wall())}, "
            f"{idb.max_rss_mib():,.0f} MiB: {w}; {m}."
            + (f" Failed: {', '.join(failed)}." if failed else "")
            + (f" Output differs from idbsync's: {', '.join(lost)}." if lost else "")
        )
        for key in ("duckdb", "duckdb_full"):
            d = s.case(key)
            if d is None or d.median_wall() is None:
                continue
            r = idb.median_wall() / d.median_wall()
            ok = "met" if r <= 0.5 else "**not met**"
            lines.append(f"  - vs. {d.what}: {r:.0%} of its wall time (goal ≤ 50%: {ok}).")
    if any(c.key == "duckdb" and "unknown key" in c.failure() for s in res.sizes for c in s.cases):
        lines.append(
            "- DuckDB's default `read_json_auto(f)` fixes its schema from a sample (the first 20,480 rows); the "
            "generator's `giftMessage` first appears at 90% of the records, so it fails. With `sample_size=-1` it "
            "scans the whole file for its schema, as idbsync does: that is the like-for-like row."
        )
    ok = [(s, s.case("idbsync")) for s in res.sizes if s.case("idbsync") and s.case("idbsync").runs]
    if len(ok) > 1:
        (s0, a), (s1, b) = ok[0], ok[-1]
        grow = b.max_rss_mib() / a.max_rss_mib() - 1 if a.max_rss_mib() else float("nan")
        lines.append(
            f"- idbsync's peak RSS from {s0.records:,} to {s1.records:,} records "
            f"({s1.ndjson_bytes / s0.ndjson_bytes:.0f}× the input): {a.max_rss_mib():,.0f} → "
            f"{b.max_rss_mib():,.0f} MiB ({grow:+.0%}; flat means within ~10%)."
        )
    return lines


def variants(res) -> list[str]:
    rows = [(s, c) for s in res.sizes for c in s.cases if c.key in ("idbsync", "idbsync_t1", "idbsync_dexie")]
    if not any(c.t.extra for _, c in rows):
        return []
    lines = [
        "## idbsync: 1 thread vs. all threads, Dexie export vs. NDJSON",
        "",
        "| records | input | command | wall (median) | CPU (median) | peak RSS | input MB/s | records/s | check |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s, c in rows:
        if not any(x.t.extra for x in s.cases):
            continue
        w, size = c.median_wall(), s.input_bytes(c)
        src = f"Dexie export ({mb(size)})" if c.t.dexie else f"NDJSON ({mb(size)})"
        lines.append(
            f"| {s.records:,} | {src} | {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | {rss(c)} | "
            f"{f'{size / 1e6 / w:,.0f}' if w else '—'} | {f'{s.records / w / 1e3:,.0f} k' if w else '—'} | "
            f"{check_cell(s, c)} |"
        )
    notes: list[str] = []
    for s in res.sizes:
        a, t1, dx = s.case("idbsync"), s.case("idbsync_t1"), s.case("idbsync_dexie")
        if a and t1 and a.median_wall() and t1.median_wall():
            x = t1.median_wall() / a.median_wall()
            notes.append(f"- {s.records:,} records: all threads are {x:.2f}× as fast as 1 thread.")
        if a and dx and a.median_wall() and dx.median_wall():
            notes.append(
                f"- {s.records:,} records: the Dexie export converts at {a.median_wall() / dx.median_wall():.0%} of the "
                "NDJSON "
                f"records/s ({s.dexie_bytes / s.ndjson_bytes:.2f}× the bytes)."
            )
    return lines + ([""] + notes if notes else [])


def startup(res) -> list[str]:
    if not res.startup:
        return []
    lines = [
        "## Start-up alone (included in the wall times above)",
        "",
        "Measured once, in the first round of the first size.",
        "",
        "| what | wall (median) | CPU (median) | peak RSS |",
        "| --- | ---: | ---: | ---: |",
    ]
    for c in res.startup:
        lines.append(f"| {c.what} | {c.wall_cell()} | {fmt_s(c.median_cpu())} | {rss(c)} |")
    return lines


def embedded(res) -> list[str]:
    """The SQL-preview and HDFS-upload comparisons, each already rendered."""
    lines: list[str] = []
    for part in res.sections:
        lines += (part + [""]) if part else []
    return lines[:-1]


SECTIONS: list[Callable] = [conversion_table, ratio_table, verdict, variants, embedded, startup]


def render(res) -> str:
    sizes = ", ".join(
        f"`orders-{s.records}.ndjson` ({s.records:,} lines, {mb(s.ndjson_bytes)})"
        + (f" and `orders-dexie-{s.records}.json` ({mb(s.dexie_bytes)})" if s.dexie_bytes else "")
        for s in res.sizes
    )
    lines = [
        "# idbsync vs. DuckDB, Polars, pyarrow, json2parquet and Spark: NDJSON → zstd Parquet — "
        f"{res.started:%Y-%m-%d}",
        "",
        f"Generated by `{res.command}` at {res.started:%Y-%m-%d %H:%M} UTC.",
        "",
        *res.header,
        f"- inputs (`idbsync-gen --records N --format ndjson|dexie`, seed 42; in the page cache): {sizes}.",
        f"- {res.runs} runs per tool and size, tools alternating run by run; median wall and CPU over the successful "
        "runs; peak RSS = max over the runs. Each run is a fresh child process under a small launcher that gives "
        f"it a timeout (max(180 s, 0.4 s per MB), whole process group) and reports CPU (user+sys) and `ru_maxrss` "
        "of the tool and the processes it waited for (`RUSAGE_CHILDREN`, as `/usr/bin/time -v`): peak RSS is that "
        "of the largest single process (for Spark the JVM, for the Python tools the interpreter with the library). "
        "A tool that fails is not run again on that size (its failure does not change); one that times out or is "
        f"killed is not run on the larger sizes either; one whose first run takes more than {res.slow:.0f} s is not "
        "repeated on that size (the time budget).",
        "- every tool writes into a fresh folder: `idbsync convert FILE --out DIR -q` (all cores, whole-file schema "
        "inference, zstd level 3); DuckDB `COPY (SELECT * FROM read_json_auto(FILE[, sample_size=-1])) TO … "
        "(FORMAT parquet, COMPRESSION zstd)`, Polars, pyarrow and Spark each in a fresh `python -c` child (wall and "
        "RSS include the interpreter; Spark's include the JVM's start-up, see the last table); "
        "`json2parquet -c zstd FILE out.parquet`.",
        "- check: the output's Parquet files are read with DuckDB: rows, `sum(id)`, `count(customerId)`, distinct "
        "`shipping.city`, `sum(total)` in cents, the `items` (count and sum of `price` in cents), "
        "`count(giftMessage)` (first seen at 90% of the records) and `count(lateKey)` (last record only), compared "
        "with idbsync's output; idbsync's rows with the input's line count. A tool whose output differs is marked "
        "**rows/keys lost** (\"missing\": the column is absent or has another type).",
        "",
        f"![wall time and peak RSS per tool and size]({res.chart})",
        "",
    ]
    for section in SECTIONS:
        part = section(res)
        if part:
            lines += part + [""]
    return "\n".join(lines)
