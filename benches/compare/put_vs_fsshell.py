"""Upload throughput: `idbsync put` vs. Hadoop's own `FsShell -put` (the Java client),
into one MiniDFSCluster, side by side.

`bench.py put` (benches/compare/put-vs-fsshell.sh builds the release binaries and the
test HDFS launcher first). The dataset is a converted one: generated orders, converted by
idbsync into Parquet partitioned by month (about 1 GB with `--compression none`).
One cluster (3 DataNodes, replication 3, 64 MiB blocks) serves every run; the tools
alternate run by run, each run uploads into a fresh path, and after each run the
uploaded tree is checked (`FsShell -count`: files and bytes equal the local tree's).
Wall time is around the client process; CPU and peak RSS are the client's own (the
DataNodes' work is the same for both and not counted). compare.py embeds the same
measurement (`section`).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from harness import (
    DATA,
    RESULTS,
    ROOT,
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
    warm,
)

HELP = "uploads into HDFS vs. Hadoop's FsShell -put (put-vs-fsshell.sh)"

DEFAULT_RECORDS = 4_000_000
QUICK_RECORDS = 500_000
BLOCK = 64 << 20
JAVA_DIR = ROOT / "testdata" / "minidfs" / "java"
GOAL = 1.5  # idbsync at least as fast as FsShell -put; goal 1.5x its throughput


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_args(
        p, records=(DEFAULT_RECORDS, QUICK_RECORDS), records_help="orders to generate",
        quick="a small dataset; the result file gets a -quick suffix",
        runs="runs per client (default 3)", out="benches/results/<date>-put[-quick].md",
    )


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    resolve_runs(p, args, 3)
    check_inputs(p, args, need_duckdb=False)
    if not (JAVA_DIR / "target" / "classpath.txt").exists():
        p.error("the test HDFS launcher is not built: scripts/minidfs.sh build")


def classpath() -> str:
    deps = (JAVA_DIR / "target" / "classpath.txt").read_text().strip()
    return f"{JAVA_DIR / 'target' / 'classes'}:{deps}"


class Cluster:
    """A MiniDFSCluster from the project's launcher; stops when stdin closes."""

    def __init__(self, base: Path):
        self.base = base
        self.log = open(base.with_suffix(".log"), "wb")
        self.proc = subprocess.Popen(
            ["java", "-Xmx2g", "-cp", classpath(), "dev.idbsync.minidfs.Launcher", "--base", str(base),
             "--block-size", str(BLOCK)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.stop()
            raise SystemExit(f"MiniDFSCluster did not start ({line!r}); see {base.with_suffix('.log')}")
        self.url = line.split(" ", 1)[1]
        self.conf = base / "conf"

    def shell_argv(self, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.conf}:{classpath()}", "org.apache.hadoop.fs.FsShell", *args]

    def shell(self, *args: str) -> str:
        return subprocess.run(self.shell_argv(*args), check=True, capture_output=True, text=True).stdout

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def tree_stats(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def dataset(idbsync: Path, gen: Path, records: int) -> Path:
    """A converted dataset root of about 1 GB (for the default 4M records): the orders
    converted uncompressed twice, partitioned by month and by day, as two stores."""
    src = DATA / f"orders-{records}.ndjson"
    generate(gen, src, ["--records", str(records), "--format", "ndjson"])
    out = DATA / f"put-dataset-{records}"
    for store, term in (("orders_by_month", "month(created)"), ("orders_by_day", "day(created)")):
        if not (out / store / "_SUCCESS").exists():
            subprocess.run(
                [str(idbsync), "convert", str(src), "--out", str(out), "--store", store, "--mode", "overwrite",
                 "--compression", "none", "--detect-timestamps", "--partition-by", term, "--quiet"],
                check=True, stdout=subprocess.DEVNULL,
            )
    return out


def section(records: int, runs: int, idbsync: Path, gen: Path) -> list[str]:
    """Measures the uploads of the dataset of `records` orders and returns the report's
    section (a heading, how it was measured, the table, the verdict); compare.py embeds
    it too."""
    data = dataset(idbsync, gen, records)
    files, size = tree_stats(data)
    warm(p for p in data.rglob("*") if p.is_file())
    base = Path(tempfile.mkdtemp(prefix="minidfs-", dir=DATA))
    cluster = Cluster(base / "cluster")
    try:
        cases = [
            Case("idbsync", "idbsync", "`idbsync put` (4 files at once, each read back and CRC32C-checked)", data, []),
            Case("idbsync-nv", "idbsync", "`idbsync put --no-verify` (4 files at once)", data, []),
            Case("fsshell", "fsshell", "Hadoop `FsShell -put` (Java client, same cluster)", data, []),
        ]
        cluster.shell("-mkdir", "-p", "/bench")
        for i, c in rounds(runs, cases, swap=True):
            dest = f"/bench/{c.key}-{i}"
            if c.tool == "idbsync":
                argv = [str(idbsync), "put", str(data), cluster.url + dest, "--quiet"]
                if c.key == "idbsync-nv":
                    argv.append("--no-verify")
            else:
                argv = cluster.shell_argv("-put", str(data), dest)
            r = measure(argv)
            if r.ok:
                # `-count`: DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME
                _, nfiles, nbytes, _ = cluster.shell("-count", dest).split()
                if (int(nfiles), int(nbytes)) != (files, size):
                    r.ok, r.error = False, f"uploaded {nfiles} files / {nbytes} bytes, expected {files} / {size}"
            c.runs.append(r)
            cluster.shell("-rm", "-r", "-skipTrash", dest)
            progress(i, runs, c.key, r, f"{size / 1e6 / r.wall:6.0f} MB/s ", prefix="put ", width=11)
    finally:
        cluster.stop()
        subprocess.run(["rm", "-rf", str(base)], check=False)
    fs = cases[2].median_wall()
    lines = [
        "## Upload into HDFS: idbsync put vs. Hadoop FsShell -put",
        "",
        f"- dataset: {records:,} generated orders converted twice by idbsync (`--compression none --detect-timestamps`, "
        f"partitioned by `month(created)` and by `day(created)`, two stores): {files} files, {size / 1e6:,.0f} MB, "
        "in the page cache",
        f"- cluster: MiniDFSCluster (hadoop-client-minicluster 3.4.2) in one JVM on this machine, 3 DataNodes, "
        f"replication 3, {BLOCK >> 20} MiB blocks; every byte is written three times to the same disk",
        f"- {runs} runs per client, alternating, each into a fresh path, checked with `FsShell -count` after "
        "the run; medians. CPU and peak RSS are the client process's own.",
        "",
        "| client | wall (median) | throughput | vs FsShell | client CPU (median) | client peak RSS | result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in cases:
        w = c.median_wall()
        tp = f"{size / 1e6 / w:.0f} MB/s" if w else "—"
        ratio = f"{fs / w:.2f}x" if w and fs else "—"
        lines.append(
            f"| {c.what} | {fmt_s(w)} | {tp} | {ratio} | {fmt_s(c.median_cpu())} | {c.max_rss_mib():.0f} MiB | "
            f"{c.failure() or 'ok'} |"
        )
    iw = cases[0].median_wall()
    if iw and fs:
        verdict = "meets" if fs / iw >= 1.0 else "does **not** meet"
        goal = "reaches" if fs / iw >= GOAL else "does not reach"
        lines += ["", f"idbsync put (verified) {verdict} the bar (at least as fast as FsShell -put) and {goal} "
                  f"the {GOAL}x goal: {fs / iw:.2f}x FsShell's throughput."]
    return lines


def run(args: argparse.Namespace, idbsync: Path, gen: Path, origin: Path) -> tuple[str, Path]:
    records = resolve_records(args, DEFAULT_RECORDS, QUICK_RECORDS)
    session = Session(idbsync, origin, duckdb=False)
    started = session.started
    table = section(records, args.runs, idbsync, gen)
    session.end()
    lines = [
        f"# Upload into HDFS: idbsync put vs. Hadoop FsShell -put — {started:%Y-%m-%d}",
        "",
        f"Generated by `benches/compare/put-vs-fsshell.sh{' --quick' if args.quick else ''}` at {started:%Y-%m-%d %H:%M} UTC.",
        "",
        *session.header,
        *table[1:],
    ]
    suffix = "-quick" if args.quick else ""
    return "\n".join(lines) + "\n", RESULTS / f"{started:%Y-%m-%d}-put{suffix}.md"
