"""KCenter coreset (Sener & Savarese 2018; a coreset baseline of the graph condensation
benchmarks): per class, ``gpc`` real training graphs chosen by greedy k-center on the pooled
readouts of the target GNN trained on the whole training split: the graph nearest the class's
embedding mean, then repeatedly the graph farthest from those chosen.

Only the per-class rule differs from :class:`~baselines.herding.Herding`: the target GNN, its
training settings and ``uses_model`` (one set per model config) are herding's.
"""

from __future__ import annotations

from baselines.herding import Herding, kcenter


class KCenter(Herding):
    """``gpc`` graphs per class by greedy k-center on the target GNN's embeddings.

    ``epochs``, ``lr`` and ``batch_size`` train the target GNN (Adam) on the training split.
    """

    select = staticmethod(kcenter)
