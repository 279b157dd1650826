"""Coreset distillers: real training graphs, selected without learning."""

from __future__ import annotations

import torch

from mirage.data import TrainSplit
from mirage.distill.base import DistillContext, DistilledSet, Distiller, positive_int


class Full(Distiller):
    """The whole training split (the upper reference every distiller is compared with)."""


    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        return DistilledSet(list(train.graphs), meta={"per_class": class_counts(train.graphs)})


class Random(Distiller):
    """``gpc`` training graphs per class, drawn uniformly without replacement.

    A class with fewer than ``gpc`` graphs contributes all of them.
    """


    def __init__(self, gpc: int) -> None:
        self.gpc = positive_int("distiller.gpc", gpc)

    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.cat([g.y for g in train.graphs])
        chosen: list[int] = []
        for c in labels.unique().tolist():
            idx = (labels == c).nonzero().view(-1)
            chosen += idx[torch.randperm(len(idx), generator=gen)[: self.gpc]].tolist()
        samples = [train.graphs[i] for i in sorted(chosen)]
        return DistilledSet(samples, meta={"per_class": class_counts(samples),
                                           "train_indices": sorted(chosen)})


def class_counts(graphs: list) -> dict[int, int]:
    counts = torch.bincount(torch.cat([g.y for g in graphs])).tolist()
    return {c: n for c, n in enumerate(counts) if n}
