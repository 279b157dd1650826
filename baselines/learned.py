"""What the learned distillers (DosCond, KiDD) share: the dataset's feature layout as dense rows,
real graphs padded to a fixed size to start from, adjacency logits and their relaxed samples
(logistic noise at an annealed temperature), the guard against a diverged loss, and the
discretised output set.

A learned graph has ``n`` nodes, a dense feature row per node (one block of soft one-hot weights
per categorical column, then the continuous columns) and a 0/1 symmetric adjacency without
self-loops. It leaves as a ``Data`` with ``x_soft`` (and ``x_cont``), so every GNN of the harness
reads it through its usual encoders (see :class:`mirage.models.FeatureEncoder`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistillContext, DistilledSet
from mirage.errors import ConfigError, DistillError

EDGE_FEATURES = ("zeros", "mean")


def one_hot_columns(columns: Tensor, cardinalities: tuple[int, ...]) -> Tensor:
    """Categorical rows ``[n, C]`` as dense rows ``[n, sum(cards)]``: one one-hot block per
    column (the layout of ``x_soft`` and ``edge_soft``)."""
    return torch.cat([nn.functional.one_hot(columns[:, j], c).float()
                      for j, c in enumerate(cardinalities)], dim=1)


def one_hot_features(g: Data, spec: FeatureSpec) -> Tensor:
    """A real graph's nodes as dense rows ``[n, sum(cards) + cont_dim]``: the one-hot blocks,
    then the continuous columns."""
    x = one_hot_columns(g.x, spec.node_cardinalities)
    return torch.cat([x, g.x_cont.float()], dim=1) if spec.node_cont_dim else x


def mean_nodes(graphs: list[Data]) -> int:
    """The graphs' mean node count, rounded (at least 1): a synthetic graph's base size."""
    return max(1, round(sum(g.num_nodes for g in graphs) / len(graphs)))


def padded(g: Data, spec: FeatureSpec, n: int) -> tuple[Tensor, Tensor]:
    """A real graph cut to its first ``n`` nodes and zero-padded to ``n``: dense feature rows
    ``[n, d]`` and its 0/1 adjacency ``[n, n]``."""
    k = min(g.num_nodes, n)
    x = torch.zeros(n, sum(spec.node_cardinalities) + spec.node_cont_dim)
    x[:k] = one_hot_features(g, spec)[:k]
    a = torch.zeros(n, n)
    keep = (g.edge_index < k).all(0)
    a[g.edge_index[0, keep], g.edge_index[1, keep]] = 1.0
    return x, a


def ranges(ptr: Tensor, idx: Tensor) -> tuple[Tensor, Tensor]:
    """The concatenated index ranges ``ptr[i]:ptr[i+1]`` of ``idx``, and their lengths."""
    starts, counts = ptr[idx], ptr[idx + 1] - ptr[idx]
    shift = torch.repeat_interleave(starts - (counts.cumsum(0) - counts), counts)
    return shift + torch.arange(int(counts.sum()), device=ptr.device), counts


class SymmetricSpmm(torch.autograd.Function):
    """``adj @ h`` for a symmetric sparse ``adj``: the backward reuses ``adj`` (its transpose)
    instead of transposing a sparse matrix every call, which is most of the sparse cost here."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, adj: Tensor, h: Tensor) -> Tensor:
        ctx.adj = adj
        return adj @ h

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[None, Tensor]:
        return None, ctx.adj @ grad


@dataclass
class RealGraphs:
    """Real training graphs, collated once, with weighted edges (self-loops included) sorted by
    target node, so that any subset is gathered by index arithmetic into a CSR matrix without a
    Python loop or a sort.

    ``collate``'s defaults are DosCond's: unit self-loops, GCN normalisation
    ``1 / sqrt(deg_src deg_dst)``, and ``x`` holding the first propagation ``A_hat @ x`` of the
    fixed features, computed once. KiDD keeps raw rows, unit edges and ``1e-4`` self-loops."""

    x: Tensor  # [nodes, d]
    src: Tensor  # [edges + nodes], sorted by dst within each graph
    dst: Tensor
    weight: Tensor  # [edges + nodes]
    node_ptr: Tensor  # [graphs + 1]
    edge_ptr: Tensor  # [graphs + 1]

    @classmethod
    def collate(cls, graphs: list[Data], spec: FeatureSpec, device: torch.device,
                loop_weight: float = 1.0, gcn_norm: bool = True,
                propagate: bool = True) -> RealGraphs:
        xs, srcs, dsts, loops_at, node_ptr, edge_ptr = [], [], [], [], [0], [0]
        for g in graphs:
            n, offset = g.num_nodes, node_ptr[-1]
            loops = torch.arange(n)
            src, dst = torch.cat([g.edge_index[0], loops]), torch.cat([g.edge_index[1], loops])
            order = torch.argsort(dst * n + src)
            xs.append(one_hot_features(g, spec))
            srcs.append(src[order] + offset)
            dsts.append(dst[order] + offset)
            loops_at.append(order >= g.edge_index.size(1))
            node_ptr.append(offset + n)
            edge_ptr.append(edge_ptr[-1] + len(src))
        src, dst = torch.cat(srcs), torch.cat(dsts)
        if not torch.equal(torch.sort(dst * node_ptr[-1] + src).values,
                           torch.sort(src * node_ptr[-1] + dst).values):
            raise ConfigError("learned distillers (doscond, kidd) need undirected graphs (each "
                              "edge in both directions, as TU and OGB datasets store them)")
        weight = torch.where(torch.cat(loops_at), loop_weight, 1.0)
        if gcn_norm:
            deg = torch.zeros(node_ptr[-1]).index_add_(0, dst, weight)
            weight = deg[src].rsqrt() * deg[dst].rsqrt() * weight
        x = torch.cat(xs)
        if propagate:
            x = torch.zeros_like(x).index_add_(0, dst, x[src] * weight.unsqueeze(1))
        as_tensor = lambda v: torch.tensor(v, device=device)  # noqa: E731
        return cls(x.to(device), src.to(device), dst.to(device), weight.to(device),
                   as_tensor(node_ptr), as_tensor(edge_ptr))

    @property
    def num_graphs(self) -> int:
        return len(self.node_ptr) - 1

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Graphs ``idx`` as one disjoint union: ``x, src, dst, weight, batch`` (edges sorted
        by ``dst``)."""
        nodes, node_counts = ranges(self.node_ptr, idx)
        edges, edge_counts = ranges(self.edge_ptr, idx)
        new_start = node_counts.cumsum(0) - node_counts
        shift = torch.repeat_interleave(new_start - self.node_ptr[idx], edge_counts)
        batch = torch.repeat_interleave(torch.arange(len(idx), device=idx.device), node_counts)
        return (self.x[nodes], self.src[edges] + shift, self.dst[edges] + shift,
                self.weight[edges], batch)




def start(train: TrainSplit, seed: int,
          ctx: DistillContext | None) -> tuple[DistillContext, torch.Generator, Tensor]:
    """What a learned distillation starts from: its context (CPU by default), a generator of its
    own seeded with ``seed``, and the training labels ``[graphs]``."""
    return (ctx or DistillContext(), torch.Generator().manual_seed(seed),
            torch.cat([g.y for g in train.graphs]))


def initial_logits(adj: Tensor) -> Tensor:
    """Adjacency logits from a 0/1 adjacency: +5 on edges, -5 elsewhere (sigmoid 0.993 / 0.007),
    as both originals start."""
    return adj * 10 - 5


def annealed_temperature(step: int, anneal: int, tau: float = 1.0) -> float:
    """The relaxation temperature at ``step``: ``tau (0.01 / tau)^(step / anneal)``, at least
    0.01 (DosCond: ``tau = 1``)."""
    return max(tau * (0.01 / tau) ** (step / anneal), 0.01)


def symmetric(logits: Tensor) -> Tensor:
    """``(logits + logits^T) / 2`` of adjacency logits ``[g, n, n]``: an undirected graph's."""
    return (logits + logits.transpose(1, 2)) / 2


def relaxed_adjacency(sym: Tensor, temperature: float, gen: torch.Generator,
                      mirror_noise: bool) -> Tensor:
    """A differentiable sample of the graphs of symmetric logits ``sym [g, n, n]``
    (:func:`symmetric`): ``sigmoid((sym + noise) / temperature)`` with logistic noise (drawn on
    the CPU from ``gen``) and a zero diagonal. The noise is symmetric as each original makes it:
    DosCond averages a full draw with its transpose (``mirror_noise=False``), KiDD mirrors the
    upper triangle, so each edge gets one full-variance draw (``True``)."""
    u = torch.rand(sym.shape, generator=gen).clamp(1e-6, 1 - 1e-6).to(sym.device)
    noise = torch.log(u) - torch.log(1 - u)
    if mirror_noise:
        noise = noise.triu(1)
        relaxed = sym + noise + noise.transpose(1, 2)
    else:
        relaxed = sym + (noise + noise.transpose(1, 2)) / 2
    off_diag = 1 - torch.eye(sym.size(-1), device=sym.device)
    return torch.sigmoid(relaxed / temperature) * off_diag


def check_finite(loss: Tensor, distiller: str, where: str) -> None:
    """Stop a distillation whose loss diverged, naming where and what to lower."""
    if not torch.isfinite(loss):
        raise DistillError(f"distiller '{distiller}': the loss became {float(loss.detach())} "
                           f"at {where}; lower distiller.lr_adj / distiller.lr_feat")


def csr(src: Tensor, dst: Tensor, weight: Tensor, n: int) -> Tensor:
    """The ``[n, n]`` CSR matrix with ``weight`` at ``(dst, src)``; edges sorted by ``dst``."""
    crow = torch.zeros(n + 1, dtype=torch.long, device=dst.device)
    crow[1:] = torch.bincount(dst, minlength=n).cumsum(0)
    return torch.sparse_csr_tensor(crow, src, weight, (n, n), check_invariants=False)


def check_edge_features(mode: str) -> str:
    if mode not in EDGE_FEATURES:
        raise ConfigError(f"distiller.edge_features={mode!r} is not one of {list(EDGE_FEATURES)}")
    return mode


def edge_row(train: TrainSplit, mode: str) -> Tensor | None:
    """The bond features synthetic edges carry on datasets that have them (OGB): category 0 of
    every column (``zeros``) or the training edges' mean one-hot (``mean``); None without."""
    cards = train.features.edge_cardinalities
    if not cards:
        return None
    if mode == "zeros":
        return one_hot_columns(torch.zeros(1, len(cards), dtype=torch.long), cards)[0]
    return one_hot_columns(torch.cat([g.edge_attr for g in train.graphs]), cards).mean(0)


def edges_of(logits: Tensor) -> Tensor:
    """The discretised graphs of adjacency logits ``[g, n, n]``: ``sigmoid(sym(logits)) > 0.5``
    (bool, symmetric)."""
    return torch.sigmoid(symmetric(logits)) > 0.5


def discretised_set(edges: Tensor, feat: Tensor, y: Tensor, train: TrainSplit, edge_features: str,
                    meta: Mapping[str, Any]) -> DistilledSet:
    """The output of a learned distiller: ``edges [g, n, n]`` (bool, symmetric), ``feat
    [g, n, d]`` dense rows in the layout of :func:`one_hot_features`, ``y [g]``. The diagonal is
    dropped; every node is kept (padding included, as the originals do)."""
    spec = train.features
    split = sum(spec.node_cardinalities)
    n = edges.size(-1)
    bond = edge_row(train, edge_features)
    samples = []
    for e, x, c in zip(edges, feat, y.tolist(), strict=True):
        edge_index = (e & ~torch.eye(n, dtype=torch.bool)).nonzero().T.contiguous()
        g = Data(edge_index=edge_index, x_soft=x[:, :split].clone(), y=torch.tensor([c]),
                 num_nodes=n)
        if spec.node_cont_dim:
            g.x_cont = x[:, split:].clone()
        if bond is not None:
            g.edge_soft = bond.expand(edge_index.size(1), -1).clone()
        samples.append(g)
    return DistilledSet(samples, meta={
        "nodes_per_graph": n, **meta,
        "edge_density": [float(s.edge_index.size(1)) / max(n * (n - 1), 1) for s in samples]})
