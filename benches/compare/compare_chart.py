"""The PNG chart of `bench.py compare` (compare.py): median wall time and peak RSS per tool and size.

Grouped bars, one group per input size, log scales. A tool that failed gets a hatched,
pale bar (its time until the failure) marked "failed"; one whose output differs from
idbsync's is marked "lost".
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path


def plot(res, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart", file=sys.stderr)
        return
    keys = [c.key for c in res.sizes[0].cases if not c.t.extra]
    labels = {c.key: c.what.replace("`", "") for s in res.sizes for c in s.cases}
    colors = {k: plt.get_cmap("tab10")(i % 10) for i, k in enumerate(keys)}
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6))
    width = 0.8 / len(keys)
    for ax, what in zip(axes, ("wall", "rss")):
        seen: set[str] = set()
        for j, k in enumerate(keys):
            for i, s in enumerate(res.sizes):
                c = s.case(k)
                if c is None or not c.runs:
                    continue
                failed = c.median_wall() is None
                if what == "wall":
                    v = statistics.median(r.wall for r in c.runs) if failed else c.median_wall()
                else:
                    v = c.max_rss_mib()
                x = i + (j - (len(keys) - 1) / 2) * width
                ax.bar(
                    x, v, width, color=colors[k], alpha=0.35 if failed else 1.0, hatch="//" if failed else None,
                    edgecolor="black", linewidth=0.4, label=None if k in seen else labels[k],
                )
                seen.add(k)
                mark = "failed" if failed else ("lost" if c.key != "idbsync" and c.diff(s.ref()) else "")
                text = f"{v:.1f}" if what == "wall" else f"{v:.0f}"
                label = f"{text}\n{mark}" if mark else text
                ax.text(x, v * 1.05, label, ha="center", va="bottom", fontsize=6, rotation=90)
        ax.set_yscale("log")
        ax.set_xticks(range(len(res.sizes)))
        ax.set_xticklabels([f"{s.records:,} records\n{s.ndjson_bytes / 1e6:,.0f} MB NDJSON" for s in res.sizes])
        ax.set_ylabel("median wall time (s)" if what == "wall" else "peak RSS (MiB)")
        ax.set_title("Wall time (median; lower is better)" if what == "wall" else "Peak RSS (max over runs)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.margins(y=0.25)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"NDJSON → zstd Parquet, {res.started:%Y-%m-%d} ({res.runs} runs per tool; hatched = failed)")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path.name}", file=sys.stderr)
