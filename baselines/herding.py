"""Herding coreset (Welling 2009, as in the GCond / DosCond lineage): per class, the real training
graphs whose running mean of embeddings tracks the class mean most closely, greedily. Subclasses
swap the per-class rule (:attr:`Herding.select`) and keep the target GNN.

The embeddings are the pooled readouts of the evaluation GNN (the target model, as the Mirage
paper's herding baseline) after training it on the whole training split, so the set depends on
the model (``uses_model``: one set per model config) and ``distill_time_s`` includes that
training, also when the trained GNN is reused from an earlier distiller (KCenter's).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from tqdm.auto import trange

from baselines.coresets import class_counts
from mirage.data import TrainSplit
from mirage.distill.base import (
    DistillContext,
    DistilledSet,
    Distiller,
    positive_int,
    positive_number,
)
from mirage.errors import ConfigError
from mirage.models import GNN, build_model
from mirage.train import train_epoch


def herd(points: Tensor, k: int) -> list[int]:
    """Greedy herding over ``points`` ``[n, d]``: step ``i`` (from 0) picks the unpicked point
    ``x`` minimising ``||(i + 1) * mean - sum(picked) - x||``. Returns ``min(k, n)`` row indices in
    pick order; ties go to the lower index."""
    points = points.double()
    target = points.mean(dim=0)
    total = torch.zeros_like(target)
    free = torch.ones(len(points), dtype=torch.bool)
    picked: list[int] = []
    for i in range(min(k, len(points))):
        dist = ((i + 1) * target - total - points).norm(dim=1)
        dist[~free] = math.inf
        j = int(dist.argmin())
        picked.append(j)
        free[j] = False
        total += points[j]
    return picked


def kcenter(points: Tensor, k: int) -> list[int]:
    """Greedy k-center over ``points`` ``[n, d]``: the point nearest the mean, then repeatedly the
    point farthest from those chosen. ``min(k, n)`` row indices in pick order."""
    points = points.double()
    picked = [int((points - points.mean(0)).norm(dim=1).argmin())]
    dist = (points - points[picked[0]]).norm(dim=1)
    while len(picked) < min(k, len(points)):
        j = int(dist.argmax())
        picked.append(j)
        dist = torch.minimum(dist, (points - points[j]).norm(dim=1))
    return picked


@torch.no_grad()
def graph_embeddings(model: GNN, graphs: list[Data], device: torch.device,
                     batch_size: int = 256) -> Tensor:
    """Pooled readouts ``[len(graphs), hidden]`` in eval mode, in order, on the CPU."""
    model.eval()
    return torch.cat([model.graph_embeddings(b.to(device)).cpu()
                      for b in DataLoader(graphs, batch_size=batch_size)])


class Herding(Distiller):
    """``gpc`` graphs per class by herding on the target GNN's embeddings (see module doc).

    ``epochs``, ``lr`` and ``batch_size`` train the target GNN (Adam) on the training split.
    """

    uses_model = True
    select = staticmethod(herd)  # (class embeddings [n, d], k) -> k row indices

    def __init__(self, gpc: int, epochs: int = 100, lr: float = 1e-3,
                 batch_size: int = 32) -> None:
        self.gpc = positive_int("distiller.gpc", gpc)
        self.epochs = positive_int("distiller.epochs", epochs)
        self.batch_size = positive_int("distiller.batch_size", batch_size)
        self.lr = positive_number("distiller.lr", lr)

    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        ctx = ctx or DistillContext()
        if ctx.model is None:
            raise ConfigError(f"{type(self).__name__} embeds with the evaluation GNN: it needs "
                              "the model config")
        emb, loss = self.target_embeddings(train, seed, ctx)
        labels = torch.cat([g.y for g in train.graphs])
        chosen: list[int] = []
        for c in labels.unique().tolist():
            idx = (labels == c).nonzero().view(-1)
            chosen += idx[self.select(emb[idx], self.gpc)].tolist()
        samples = [train.graphs[i] for i in sorted(chosen)]
        return DistilledSet(samples, meta={"per_class": class_counts(samples),
                                           "train_indices": sorted(chosen),
                                           "target_final_loss": loss})

    def target_embeddings(self, train: TrainSplit, seed: int,
                          ctx: DistillContext) -> tuple[Tensor, float]:
        """The target GNN (``ctx.model``) trained on the whole training split: its pooled
        readouts ``[graphs, hidden]`` of the training graphs and its last epoch's loss. Trained
        once per model config, training settings and seed (:meth:`DistillContext.reuse`): every
        subclass with the same settings gets the same GNN, and its loss curve is logged once."""
        parts = {"model": dict(ctx.model or {}), "epochs": self.epochs, "lr": self.lr,
                 "batch_size": self.batch_size, "seed": seed}
        out = ctx.reuse("target_gnn", parts, lambda: self._train_target(train, seed, ctx))
        return out["embeddings"], out["loss"]

    def _train_target(self, train: TrainSplit, seed: int, ctx: DistillContext) -> dict:
        torch.manual_seed(seed)
        model = build_model(ctx.model, train.features, train.num_classes).to(ctx.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        generator = torch.Generator().manual_seed(seed)
        everything = DistilledSet(list(train.graphs))
        every = max(1, self.epochs // 10)
        for epoch in trange(1, self.epochs + 1, disable=not ctx.progress, leave=False,
                            desc="herding: target GNN"):
            loss = train_epoch(model, everything, optimizer, self.batch_size, generator,
                               ctx.device)
            if epoch % every == 0 or epoch == self.epochs:
                ctx.log({"epoch": epoch, "loss": loss})
        return {"embeddings": graph_embeddings(model, list(train.graphs), ctx.device),
                "loss": loss}
