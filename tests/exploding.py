"""A distiller that fails while distilling: a measuring failure on demand, for sweep tests.

Selected with ``hydra.searchpath=[file://<tests>/conf] distiller=exploding`` and ``tests/`` on
``PYTHONPATH`` (see :func:`conftest.plugin_args`).
"""

from __future__ import annotations

from mirage.data import TrainSplit
from mirage.distill.base import DistillContext, DistilledSet, Distiller


class Exploding(Distiller):
    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        raise RuntimeError("exploded while distilling (test)")
