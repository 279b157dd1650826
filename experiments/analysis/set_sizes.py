"""Sizes of a distilled set's samples against the real training graphs, by class.

A sum-pooled GNN can take the number of nodes it pools as a class cue. Where a distilled set
orders the classes by that number the other way round from the real graphs, the cue it learns
points backwards on real data, and its ROC-AUC falls below chance (Mirage at large byte budgets
with support floor 1 on DD and ogbg-molbace, results/paper_main/main.md).

Usage (the arguments are run.py's Hydra overrides; the set comes from the artifact cache, or is
distilled)::

    python -m experiments.analysis.set_sizes experiment=paper_main arm=mirage_at_doscond_10 \
        dataset=dd

Prints one Markdown line per class: samples, mean nodes and mean pooled nodes per sample (Mirage
pools over tree roots only), the node counts of the samples that are whole graphs (they pool
every node: a coreset's graphs, or the real graphs Mirage adds beside its trees; a few of them
can misstate the class's size), and the mean nodes of the class's real training graphs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from torch_geometric.data import Data

from experiments.cli import compose, describe, distilled_set, exit_with, parse
from mirage.report.formats import markdown_table


def pooled_nodes(graph: Data) -> int:
    """Nodes a readout sums over: those of ``pool_mask`` when the sample has one, else all."""
    mask = graph.get("pool_mask")
    return int(mask.sum()) if mask is not None else int(graph.num_nodes)


def whole(graph: Data) -> bool:
    """The sample pools every node: a graph, not trees."""
    return pooled_nodes(graph) == int(graph.num_nodes)


def class_sizes(samples: Sequence[Data], real: Sequence[Data]) -> list[dict[str, Any]]:
    """Per class (ascending): sample count, mean nodes and mean pooled nodes of ``samples``, the
    sorted node counts of those that are whole graphs, and mean nodes of the ``real`` graphs of
    that class."""
    def label(g: Data) -> int:
        return int(g.y.view(-1).argmax()) if g.y.numel() > 1 else int(g.y.view(-1)[0])

    out = []
    for cls in sorted({label(g) for g in samples} | {label(g) for g in real}):
        mine = [g for g in samples if label(g) == cls]
        theirs = [int(g.num_nodes) for g in real if label(g) == cls]
        out.append({"class": cls, "samples": len(mine),
                    "nodes": sum(int(g.num_nodes) for g in mine) / max(len(mine), 1),
                    "pooled": sum(pooled_nodes(g) for g in mine) / max(len(mine), 1),
                    "whole": sorted(int(g.num_nodes) for g in mine if whole(g)),
                    "real_nodes": sum(theirs) / max(len(theirs), 1)})
    return out


def _counts(nodes: list[int], shown: int = 8) -> str:
    """``nodes`` as a list, or their count, range and median when there are many."""
    if len(nodes) <= shown:
        return ", ".join(map(str, nodes)) or "none"
    return f"{len(nodes)} graphs, {nodes[0]} to {nodes[-1]} (median {nodes[len(nodes) // 2]})"


def main(argv: Sequence[str] | None = None) -> int:
    from omegaconf import OmegaConf

    cfg = compose(parse(argparse.ArgumentParser(description=describe(__doc__)), argv).overrides)
    data, distilled = distilled_set(cfg)
    rows = class_sizes(distilled.samples, data.train)
    print(f"{cfg.dataset.name}, {cfg.study.arm or cfg.distiller.name}: "
          f"{OmegaConf.to_container(cfg.distiller)['name']} set of "
          f"{distilled.nbytes()} bytes")
    print(markdown_table(["class", "samples", "nodes / sample", "pooled nodes / sample",
                          "whole graphs: nodes", "nodes / real training graph"],
                         [[r["class"], r["samples"], f"{r['nodes']:.1f}", f"{r['pooled']:.1f}",
                           _counts(r["whole"]), f"{r['real_nodes']:.1f}"] for r in rows]))
    return 0


if __name__ == "__main__":
    exit_with(main)
