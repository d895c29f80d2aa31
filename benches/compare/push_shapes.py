"""`idbsync push` by batch shape and table size, one or two builds side by side (issue 17).

    python3 benches/compare/push_shapes.py --bin target/release/idbsync [--baseline OLD] \
        [--records 1000000,100000] [--batches 0.1,1,10] [--runs 3] [--out REPORT.md]

A synced `orders` table of N generated records (`idbsync-gen`, seed 42) is made once per
build with `idbsync push` of the whole file (key `id`): each build lays its table out its
own way. Then batches of two shapes are pushed into fresh copies of it (copied outside the
timing), the builds alternating run by run:

* random: the changed keys are drawn from the whole table (90% updates, 10% new ids, and
  deletes a tenth of the upserts), as in `sync_vs_spark.py`;
* recent: the updated and deleted keys are drawn from the newest 5% of the table, the new
  ids follow the last one (what an app that syncs every few minutes pushes).

Each push's --json summary must count exactly the batch's upserts and deletes. Median wall,
CPU and peak RSS per row; and the files each push read and rewrote (from its summary,
builds that report them).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from harness import DATA, ROOT, generate, measure

STORE = "orders"


def make_batch(base: Path, records: int, pct: float, shape: str, out: Path) -> tuple[int, int]:
    """Writes the batch and gives (upserts, deletes)."""
    upserts = max(1, round(records * pct / 100))
    inserts = max(1, round(upserts * 0.1))
    updates = upserts - inserts
    deletes = max(1, round(upserts * 0.1))
    rng = random.Random(f"push-shapes-{records}-{pct:g}-{shape}")
    low = 1 if shape == "random" else records - records // 20 + 1
    if records - low + 1 < updates + deletes:
        raise SystemExit(f"{shape} {pct:g}%: more changes than the newest 5% of {records:,} records")
    picked = rng.sample(range(low, records + 1), updates + deletes)
    upd, dele = set(picked[:updates]), set(picked[updates:])
    lines: list[str] = []
    donors: list[dict] = []
    with open(base, "rb") as r:
        for i, line in enumerate(r, start=1):
            if i > records:
                break
            if i in dele:
                lines.append(json.dumps({"id": i, "_deleted": True}))
            elif i in upd:
                rec = json.loads(line)
                rec["status"] = f"updated-{shape}"
                rec["total"] = round(rec["total"] + 1.0, 2)
                lines.append(json.dumps(rec, separators=(",", ":")))
            if i > records - inserts:
                donors.append(json.loads(line))
    for j, rec in enumerate(donors):
        rec = dict(rec, id=records + 1 + j, status=f"inserted-{shape}")
        lines.append(json.dumps(rec, separators=(",", ":")))
    rng.shuffle(lines)
    out.write_text("\n".join(lines) + "\n")
    return upserts, deletes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", type=Path, required=True, help="the idbsync build to measure")
    p.add_argument("--baseline", type=Path, help="another idbsync build, measured side by side")
    p.add_argument("--gen", type=Path, default=ROOT / "target" / "release" / "idbsync-gen")
    p.add_argument("--records", default="1000000,100000", help="table sizes, comma-separated")
    p.add_argument("--batches", default="0.1,1,10", help="batch sizes, percent of the table")
    p.add_argument("--shapes", default="random,recent")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", type=Path, help="write the markdown table here too")
    a = p.parse_args()
    builds = [("candidate", a.bin.resolve())] + ([("baseline", a.baseline.resolve())] if a.baseline else [])
    rows: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="push-shapes-"))
    try:
        for records in [int(x) for x in a.records.split(",")]:
            base = DATA / f"orders-{records}.ndjson"
            generate(a.gen, base, ["--records", str(records), "--format", "ndjson"])
            tables = {}
            for name, exe in builds:
                t = work / f"table-{name}-{records}"
                r = measure([str(exe), "push", str(base), str(t), "--key", "id", "--store", STORE, "-q"])
                if not r.ok:
                    raise SystemExit(f"{name}: the first push failed: {r.out[-2000:]}")
                tables[name] = t
                print(f"{records:,} rows, {name}: first push {r.wall:.2f} s, {r.rss_kib / 1024:.0f} MiB", file=sys.stderr)
            for shape in a.shapes.split(","):
                for pct in [float(x) for x in a.batches.split(",")]:
                    batch = work / f"batch-{records}-{shape}-{pct:g}.ndjson"
                    try:
                        ups, dels = make_batch(base, records, pct, shape, batch)
                    except SystemExit as e:
                        print(f"skipped: {e}", file=sys.stderr)
                        continue
                    runs: dict[str, list] = {n: [] for n, _ in builds}
                    for i in range(a.runs):
                        order = builds if i % 2 == 0 else list(reversed(builds))
                        for name, exe in order:
                            copy = work / "run"
                            shutil.rmtree(copy, ignore_errors=True)
                            shutil.copytree(tables[name], copy)
                            argv = [str(exe), "push", str(batch), str(copy), "--key", "id", "--store", STORE, "--json"]
                            r = measure(argv)
                            t = json.loads(r.out)["tables"][0] if r.ok else {}
                            ok = r.ok and t.get("upserted") == ups and t.get("deleted") == dels
                            if not ok:
                                raise SystemExit(f"{name} {shape} {pct:g}%: wrong or failed push: {r.out[-2000:]}")
                            runs[name].append((r.wall, r.cpu, r.rss_kib / 1024, t.get("files_read"), t.get("files_rewritten")))
                    for name, _ in builds:
                        rs = runs[name]
                        med = lambda k: statistics.median(x[k] for x in rs)  # noqa: E731
                        files = "—" if rs[0][3] is None else f"{rs[0][3]} / {rs[0][4]}"
                        rows.append(
                            f"| {records:,} | {shape} | {pct:g}% ({ups:,} + {dels:,}) | {name} | {med(0):.2f} s | "
                            f"{med(1):.2f} s | {max(x[2] for x in rs):.0f} MiB | {files} |"
                        )
                        print(rows[-1], file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = [
        "| table rows | shape | batch (upserts + deletes) | build | wall (median) | CPU (median) | peak RSS (max) | files read / rewritten |",
        "| ---: | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    text = "\n".join(head + rows) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
