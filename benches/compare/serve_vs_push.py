"""`idbsync serve` push over loopback vs `idbsync push` from disk, same export (issue 18).

    python3 benches/compare/serve_vs_push.py --bin target/release/idbsync [--size 100MB] [--runs 3]

A Dexie export of about SIZE (`idbsync-gen --format dexie`, seed 42) is pushed into a new
synced table, alternating run by run:

* `idbsync push EXPORT ROOT_i --json`: a fresh process reading the file from disk;
* `curl --data-binary @EXPORT POST /v1/db_i/push` to one `idbsync serve` started before
  the runs (loopback, a write token per database): the HTTP path end to end, the body
  streamed to the server's spool and merged there. The server's CPU for the run is read
  from /proc before and after; its peak RSS is its VmHWM at the end.

Both must report every record upserted. Throughput = export bytes / wall; the ratio is
server throughput over CLI throughput (goal ≥ 0.9: the HTTP path adds little).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from harness import DATA, ROOT, generate, measure


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", type=Path, required=True)
    p.add_argument("--gen", type=Path, default=ROOT / "target" / "release" / "idbsync-gen")
    p.add_argument("--size", default="100MB")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", type=Path, help="write the markdown table here too")
    a = p.parse_args()
    exe = str(a.bin.resolve())
    export = DATA / f"orders-dexie-{a.size}.json"
    generate(a.gen, export, ["--size", a.size, "--format", "dexie"])
    size = export.stat().st_size
    work = Path(tempfile.mkdtemp(prefix="serve-vs-push-"))
    tokens_file = work / "tokens"
    port = free_port()
    server_root = work / "served"
    server_root.mkdir()
    tokens = {}
    for i in range(a.runs):
        out = subprocess.run(
            [exe, "token", "new", "--tokens", str(tokens_file), "--database", f"db{i}", "--read", "--write"],
            check=True, capture_output=True, text=True,
        )
        tokens[i] = out.stdout.strip()
    server = subprocess.Popen(
        [exe, "serve", "--root", str(server_root), "--listen", f"127.0.0.1:{port}", "--tokens", str(tokens_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    cli: list[tuple[float, float, float]] = []
    srv: list[tuple[float, float]] = []
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        for i in range(a.runs):
            order = ["cli", "server"] if i % 2 == 0 else ["server", "cli"]
            for what in order:
                if what == "cli":
                    root = work / f"cli-{i}"
                    r = measure([exe, "push", str(export), str(root), "--json"])
                    t = json.loads(r.out)["tables"] if r.ok else []
                    if not r.ok or not t or any(x["upserted"] != x["read"] for x in t):
                        raise SystemExit(f"cli push failed: {r.out[-2000:]}")
                    cli.append((r.wall, r.cpu, r.rss_kib / 1024))
                else:
                    before = proc_cpu(server.pid)
                    argv = [
                        "curl", "-sS", "--fail-with-body", "-X", "POST", "--data-binary", f"@{export}",
                        "-H", f"Authorization: Bearer {tokens[i]}", "-H", f"Idempotency-Key: bench/{i + 1}",
                        f"http://127.0.0.1:{port}/v1/db{i}/push",
                    ]
                    r = measure(argv)
                    body = json.loads(r.out) if r.ok else {}
                    t = body.get("tables", [])
                    if not r.ok or not t or any(x["upserted"] != x["read"] for x in t):
                        raise SystemExit(f"server push failed: {r.out[-2000:]}")
                    srv.append((r.wall, proc_cpu(server.pid) - before))
                print(f"run {i + 1} {what}: {(cli if what == 'cli' else srv)[-1]}", file=sys.stderr)
        hwm = proc_hwm_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    cw, sw = statistics.median(x[0] for x in cli), statistics.median(x[0] for x in srv)
    mb = size / 1e6
    text = "\n".join([
        f"Export: {export.name}, {mb:.1f} MB; {a.runs} runs each, alternating.",
        "",
        "| path | wall (median) | throughput | CPU (median) | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| `idbsync push` from disk | {cw:.2f} s | {mb / cw:.1f} MB/s | {statistics.median(x[1] for x in cli):.2f} s "
        f"| {max(x[2] for x in cli):.0f} MiB |",
        f"| `POST /v1/db/push` to `idbsync serve` (curl, loopback) | {sw:.2f} s | {mb / sw:.1f} MB/s "
        f"| {statistics.median(x[1] for x in srv):.2f} s (server) | {hwm:.0f} MiB (server, all runs) |",
        "",
        f"Server throughput / CLI throughput: **{cw / sw:.2f}×** (goal ≥ 0.9).",
    ]) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
