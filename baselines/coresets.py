"""Coreset distillers: real training graphs, selected without learning."""

from __future__ import annotations

import itertools

import torch

from mirage.data import TrainSplit
from mirage.distill import base
from mirage.distill.base import DistillContext, DistilledSet, Distiller


class Full(Distiller):
    """The whole training split (the upper reference every distiller is compared with)."""


    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        return DistilledSet(list(train.graphs), meta={"per_class": class_counts(train.graphs)})


class Random(Distiller):
    """``gpc`` training graphs per class, drawn uniformly without replacement.

    A class with fewer than ``gpc`` graphs contributes all of them. With ``budget_bytes``, the
    classes instead take turns adding their next random graph until the set holds at least that
    many bytes (``gpc`` is not applied): a random coreset of equal or larger size than another
    distiller's set. A float ``budget_bytes`` in ``(0, 1)`` is that fraction of the training
    split's bytes.
    """


    def __init__(self, gpc: int = 10, budget_bytes: int | float | None = None) -> None:
        self.gpc = base.positive_int("distiller.gpc", gpc)
        self.budget_bytes = base.byte_budget("distiller.budget_bytes", budget_bytes)

    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        gen = torch.Generator().manual_seed(seed)
        labels = torch.cat([g.y for g in train.graphs])
        orders = []  # per class: its graphs in a random order
        for c in labels.unique().tolist():
            idx = (labels == c).nonzero().view(-1)
            orders.append(idx[torch.randperm(len(idx), generator=gen)].tolist())
        if self.budget_bytes is None:
            chosen = [i for order in orders for i in order[: self.gpc]]
        else:
            chosen = self._fill(train, orders)
        samples = [train.graphs[i] for i in sorted(chosen)]
        return DistilledSet(samples, meta={"per_class": class_counts(samples),
                                           "train_indices": sorted(chosen)})

    def _fill(self, train: TrainSplit, orders: list[list[int]]) -> list[int]:
        """Round robin over the classes' orders until ``budget_bytes`` is reached and every
        class has a graph (or all graphs are in): a coreset of one class trains nothing."""
        chosen, total, limit = [], 0, base.resolve_budget(self.budget_bytes, train.graphs)
        for i in (i for turn in itertools.zip_longest(*orders) for i in turn if i is not None):
            if total >= limit and len(chosen) >= len(orders):
                break
            chosen.append(i)
            total += base.nbytes([train.graphs[i]])
        return chosen


def class_counts(graphs: list) -> dict[int, int]:
    counts = torch.bincount(torch.cat([g.y for g in graphs])).tolist()
    return {c: n for c, n in enumerate(counts) if n}
