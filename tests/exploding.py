"""A distiller that fails while distilling: a measuring failure on demand, for sweep tests.

Selected with ``hydra.searchpath=[file://<tests>/conf] distiller=exploding`` and ``tests/`` on
``PYTHONPATH`` (see :func:`conftest.plugin_args`); ``distiller.draws=[1]`` makes it fail for
distill seed 1 only (a random coreset otherwise).
"""

from __future__ import annotations

from baselines.coresets import Random
from mirage.data import TrainSplit
from mirage.distill.base import DistillContext, DistilledSet, Distiller


class Exploding(Distiller):
    def __init__(self, draws: list[int] | None = None) -> None:
        self.draws = draws

    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        if self.draws is None or seed in self.draws:
            raise RuntimeError("exploded while distilling (test)")
        return Random(gpc=2).distill(train, seed, ctx)
