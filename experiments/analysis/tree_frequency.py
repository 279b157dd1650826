"""Rank-frequency curves of computation trees, per dataset and class.

Usage::

    python -m experiments.analysis.tree_frequency    # all seven datasets -> results/tree_frequency/
    python -m experiments.analysis.tree_frequency --datasets mutag nci1 --out /tmp/trees.png

For every dataset (``distiller=mirage dataset=<ds>`` composed with Hydra, so the tree depth is the
dataset's Mirage ``hops`` from ``conf/tuned`` when present) and every class, the graph-level
frequency of a computation tree is the number of training graphs of the class that contain it:
exactly the support of that one-tree itemset in Mirage's transactions (trees from
:func:`mirage.distill.trees.tree_ids` over :func:`mirage.distill.trees.union_of`, isolated nodes
skipped, support from :class:`mirage.distill.mining.TransactionDB`). The figure has one log-log
subplot per dataset, one curve per class (normalised frequency = count / graphs of the class,
against rank); a dotted line marks the class's Mirage minimum support. A CSV summary goes next to
the figure (same stem, ``.csv``).
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from experiments.benchmarks.common import config
from experiments.cli import describe, exit_with, parse

SUMMARY_COLUMNS = ["dataset", "class", "hops", "graphs", "distinct_trees", "top1_freq",
                   "trees_freq_ge_0.1", "singleton_share", "min_support", "trees_ge_min_support"]


def class_frequencies(dataset: str, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Per class: graph counts of every tree, plus the settings they were computed with.

    Returns ``{"name", "hops", "classes": {cls: {"graphs", "counts", "min_support"}}}``, with
    ``counts`` the number of the class's graphs holding each tree, in descending order.
    """
    from omegaconf import OmegaConf

    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.distiller import min_support
    from mirage.distill.mining import TransactionDB
    from mirage.distill.trees import tree_ids, union_of

    cfg = config(dataset, overrides)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    hops = int(cfg.distiller.hops)
    union = union_of(data.train)
    ids = tree_ids(union.node_label, union.edge_label, union.in_edges, hops)
    graph_class = np.array([int(g.y.view(-1)[0]) for g in data.train])
    node_class = np.where(union.isolated, -1, graph_class[union.node_graph])
    threshold = OmegaConf.to_container(cfg.distiller, resolve=True)["threshold"]
    classes = {}
    for cls in range(data.num_classes):
        in_class = graph_class == cls
        if not in_class.any():
            continue
        tx_of_graph = np.cumsum(in_class) - 1  # same transactions as Mirage.distill
        nodes = np.flatnonzero(node_class == cls)
        db = TransactionDB(tx_of_graph[union.node_graph[nodes]], ids[nodes], int(in_class.sum()))
        thr = threshold.get(cls) if isinstance(threshold, dict) else threshold
        classes[cls] = {"graphs": db.num_transactions,
                        "counts": np.sort(db.item_support)[::-1],
                        "min_support": (min_support(thr, db.num_transactions)
                                        if thr is not None else None)}
    return {"name": cfg.dataset.name, "hops": hops, "classes": classes}


def summarize(freq: dict[str, Any]) -> list[dict[str, Any]]:
    """One summary row per class of ``freq`` (see :data:`SUMMARY_COLUMNS`)."""
    rows = []
    for cls, c in freq["classes"].items():
        counts, graphs = c["counts"], c["graphs"]
        norm = counts / graphs
        rows.append({
            "dataset": freq["name"], "class": cls, "hops": freq["hops"], "graphs": graphs,
            "distinct_trees": int(counts.size),
            "top1_freq": float(norm[0]) if counts.size else math.nan,
            "trees_freq_ge_0.1": int((norm >= 0.1).sum()),
            "singleton_share": float((counts == 1).mean()) if counts.size else math.nan,
            "min_support": c["min_support"],
            "trees_ge_min_support": (int((counts >= c["min_support"]).sum())
                                     if c["min_support"] is not None else ""),
        })
    return rows


def plot(freqs: Sequence[dict[str, Any]], out: Path) -> None:
    """Log-log rank-frequency curves, one subplot per dataset, one curve per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncols = min(len(freqs), 3)
    nrows = math.ceil(len(freqs) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax, freq in zip(axes.flat, freqs, strict=False):
        for cls, c in freq["classes"].items():
            if not c["counts"].size:
                continue
            line, = ax.loglog(np.arange(1, c["counts"].size + 1), c["counts"] / c["graphs"],
                              label=f"class {cls} ({c['graphs']} graphs)")
            if c["min_support"] is not None:
                ax.axhline(c["min_support"] / c["graphs"], color=line.get_color(), ls=":",
                           lw=1)
        ax.set_title(f"{freq['name']} (depth {freq['hops']})")
        ax.set_xlabel("tree rank")
        ax.set_ylabel("fraction of class graphs with tree")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(freqs):]:
        ax.set_visible(False)
    fig.suptitle("Computation-tree rank-frequency per class (dotted: Mirage min support)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: write the figure and its CSV summary; print the summary."""
    p = argparse.ArgumentParser(description=describe(__doc__))
    p.add_argument("--datasets", nargs="+",
                   default=["mutag", "nci1", "dd", "imdb_b", "ogbg_molbace", "ogbg_molbbbp",
                            "ogbg_molhiv"])
    p.add_argument("--out", type=Path, default=Path("results/tree_frequency/tree_frequency.png"))
    args = parse(p, argv)
    freqs = [class_frequencies(ds, args.overrides) for ds in args.datasets]
    plot(freqs, args.out)
    rows = [row for freq in freqs for row in summarize(freq)]
    summary = args.out.with_suffix(".csv")
    with summary.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()))
    print(f"figure: {args.out}; summary: {summary}")
    return 0


if __name__ == "__main__":
    exit_with(main)
