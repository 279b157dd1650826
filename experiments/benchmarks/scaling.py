"""How Mirage's distillation time and memory grow with the number of graphs.

Usage::

    python -m experiments.benchmarks.scaling    # 10k, 100k, 300k, 1M synthetic + ogbg-molhiv
    python -m experiments.benchmarks.scaling --sizes 10000 100000 --no-molhiv --out /tmp/s.csv

Synthetic points: ``mirage.synthetic.make_collated`` graphs (25 nodes +- 2, 2 node labels, the
two structural classes), all of them the training split, held as one :class:`Collated` table;
Mirage with ``hops=2``, threshold 5 % of each class, at most 4 trees per set, no pattern cap. The
real point: ogbg-molhiv's training split with its tuned settings, as the harness runs it. Each
point runs in a fresh child process: the data is built first, then the peak-RSS mark is reset
(``/proc/self/clear_refs``), so the peak is the data plus distillation; ``--repeats``
distillations give the median time. Writes ``--out`` (CSV), a Markdown table beside it and a
log-log plot (``.png``) with a line of slope 1 through the smallest point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.benchmarks import common
from experiments.cli import ROOT, describe, exit_with, parse
from mirage.report.formats import markdown_table

SIZES = (10_000, 100_000, 300_000, 1_000_000)
SYNTHETIC = {"hops": 2, "threshold": 0.05, "max_size": 4, "max_patterns": None}
COLUMNS = {"point": "data", "graphs": "train graphs", "nodes": "nodes",
           "build_s": "data built s", "distill_median_s": "distill s (median)",
           "peak_rss_mb": "peak RSS MB", "distilled_graphs": "distilled graphs"}


def measure(point: str, repeats: int, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """One point: ``point`` is a graph count (synthetic) or ``ogbg_molhiv``."""
    import gc

    import torch
    from omegaconf import OmegaConf

    from mirage.collated import Collated
    from mirage.data import FeatureSpec, TrainSplit, load_dataset, resolve_data_root
    from mirage.distill.base import build_distiller
    from mirage.distill.distiller import Mirage
    from mirage.synthetic import make_collated

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if point.isdigit():
        table = make_collated(int(point), 25, 2, seed=0)
        train = TrainSplit("synthetic", table, 2, FeatureSpec((2,)))
        distiller = Mirage(**SYNTHETIC)
    else:
        cfg = common.config(point, overrides)
        data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
        train = data.train_split()
        table = Collated.of(train.graphs)
        distiller = build_distiller(OmegaConf.to_container(cfg.distiller, resolve=True))
    build_s = time.perf_counter() - t0
    gc.collect()
    reset = common.reset_peak_rss()
    seconds, ds = [], None
    for _ in range(repeats):
        ds = None
        gc.collect()
        t0 = time.perf_counter()
        ds = distiller.distill(train, seed=0)
        seconds.append(time.perf_counter() - t0)
    _, peak = common.rss_mb()
    return {"point": point, "status": "ok", "graphs": len(train.graphs),
            "nodes": table.num_nodes, "build_s": round(build_s, 2),
            "distill_median_s": round(statistics.median(seconds), 3),
            "distill_all_s": json.dumps([round(s, 3) for s in seconds]),
            "peak_rss_mb": round(peak), "peak_rss_reset": reset,
            "distilled_graphs": ds.num_graphs if ds else 0, "repeats": repeats,
            **common.machine_info()}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    return markdown_table(list(COLUMNS.values()),
                          [[r.get(c, r.get("error", "")) for c in COLUMNS] for r in rows],
                          empty="") + "\n"


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Log-log time against graphs, synthetic points joined, a slope-1 line through the first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r["status"] == "ok"]
    syn = [r for r in ok if str(r["point"]).isdigit()]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    if syn:
        xs = [r["graphs"] for r in syn]
        ax.plot(xs, [r["distill_median_s"] for r in syn], "o-", label="synthetic (25 nodes)")
        ax.plot(xs, [syn[0]["distill_median_s"] * x / xs[0] for x in xs], "k--",
                label="linear (slope 1)")
    for r in ok:
        if not str(r["point"]).isdigit():
            ax.plot(r["graphs"], r["distill_median_s"], "s", label=f"{r['point']} (tuned)")
    ax.set(xscale="log", yscale="log", xlabel="training graphs",
           ylabel="distillation time (s, median)", title="Mirage distillation cost")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=describe(__doc__))
    ap.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    ap.add_argument("--no-molhiv", action="store_true", help="skip the ogbg-molhiv point")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "scaling" / "scaling.csv")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parse(ap, argv)
    if args.worker:
        args.result.write_text(json.dumps(measure(args.worker, args.repeats, args.overrides)))
        return 0
    points = [str(s) for s in args.sizes] + ([] if args.no_molhiv else ["ogbg_molhiv"])
    rows = []
    for point in points:
        print(f"[benchmarks.scaling] {point} ...", file=sys.stderr, flush=True)
        rows.append(common.in_child("experiments.benchmarks.scaling",
                             ["--worker", point, "--repeats", str(args.repeats)],
                             args.overrides, {"point": point}))
    print(common.write(rows, args.out, markdown), end="")
    plot(rows, args.out.with_suffix(".png"))
    return int(any(r["status"] != "ok" for r in rows))


if __name__ == "__main__":
    exit_with(main)
