"""DosCond (Jin et al., KDD 2022): graph condensation by one-step gradient matching.

Per class, ``gpc`` synthetic graphs of ``nodes`` nodes each carry learned adjacency logits and
learned node features. Every iteration draws a fresh 3-layer GCN and matches, class by class, the
gradient of its loss on a batch of real training graphs with the gradient on the synthetic
graphs, whose edges are sampled from a Bernoulli relaxation (logistic noise, annealed
temperature). The output is the discretised graphs (``sigmoid(logits) > 0.5``) with their learned
features, after the configured iterations: no evaluation picks the set (algorithms.md section 2).

Learned features live in the dataset's own layout: one block of soft one-hot weights per
categorical column (``x_soft``) plus the continuous columns (``x_cont``), so the harness's GNNs
read them through their usual embeddings (see :class:`mirage.models.FeatureEncoder`).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import trange

from baselines import learned
from mirage.data import FeatureSpec, TrainSplit
from mirage.distill import base
from mirage.distill.base import DistillContext, DistilledSet, Distiller
from mirage.errors import ConfigError


class MatchingGCN:
    """The freshly initialised GCN whose gradients are matched: ``layers`` graph convolutions of
    width ``hidden`` (ReLU after each), mean or sum pooling, a linear head. Functional, so one set
    of weights runs on the sparse real batch and on the dense synthetic graphs."""

    def __init__(self, dims: list[int], num_classes: int, pool: str, device: torch.device,
                 generator: torch.Generator) -> None:
        self.pool = pool
        self.params: list[Tensor] = []
        for fan_in, fan_out in [*itertools.pairwise(dims), (dims[-1], num_classes)]:
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # Glorot, as PyG's GCNConv
            w = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound
            self.params += [w.to(device).requires_grad_(), torch.zeros(fan_out, device=device,
                                                                        requires_grad=True)]

    def _layers(self) -> list[tuple[Tensor, Tensor]]:
        return list(zip(self.params[0:-2:2], self.params[1:-2:2], strict=True))

    def sparse(self, ax: Tensor, adj: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        """``ax = A_hat @ x [nodes, d]`` (the first propagation, precomputed), ``adj`` the
        normalised symmetric adjacency as a CSR matrix (a sparse product is 5x faster here than
        gathering messages and scattering them back)."""
        (w, b), *rest = self._layers()
        h = torch.relu(ax @ w + b)
        for w, b in rest:
            h = torch.relu(learned.SymmetricSpmm.apply(adj, h @ w) + b)
        pooled = torch.zeros(num_graphs, h.size(1), device=h.device).index_add_(0, batch, h)
        if self.pool == "mean":
            pooled = pooled / torch.bincount(batch, minlength=num_graphs).clamp(min=1).unsqueeze(1)
        return pooled @ self.params[-2] + self.params[-1]

    def dense(self, x: Tensor, adj: Tensor) -> Tensor:
        """``x [g, n, d]``, ``adj [g, n, n]`` (soft, zero diagonal) -> logits ``[g, classes]``."""
        a = normalized(adj)
        h = x
        for w, b in self._layers():
            h = torch.relu(a @ (h @ w) + b)
        return pool_nodes(h, self.pool) @ self.params[-2] + self.params[-1]


def normalized(adj: Tensor) -> Tensor:
    """``D^-1/2 (A + I) D^-1/2`` of dense soft adjacencies ``[g, n, n]`` with a zero diagonal."""
    a = adj + torch.eye(adj.size(-1), device=adj.device)
    d = a.sum(-1).rsqrt()
    return d.unsqueeze(-1) * a * d.unsqueeze(-2)


def pool_nodes(h: Tensor, pool: str) -> Tensor:
    """``[g, n, d] -> [g, d]``: the mean or the sum over each graph's nodes."""
    return h.mean(1) if pool == "mean" else h.sum(1)


def propagated_readout_norm(x: Tensor, adj: Tensor, hops: int, pool: str) -> Tensor:
    """``|| pool(A_hat^hops X) ||_F`` over the synthetic graphs: the size of what a linear
    ``hops``-layer GCN reads out (the official molhiv-only term, algorithms.md section 2)."""
    a = normalized(adj)
    for _ in range(hops):
        x = a @ x
    return pool_nodes(x, pool).norm()


def gradient_distance(syn: list[Tensor], real: list[Tensor]) -> Tensor:
    """DosCond's ``mse``: ``||g_syn - g_real||^2 / ||g_real||^2`` over all flattened gradients."""
    num = sum(((s - r) ** 2).sum() for s, r in zip(syn, real, strict=True))
    return num / sum((r ** 2).sum() for r in real).clamp(min=1e-12)


class DosCond(Distiller):
    """See the module docstring; keys are ``conf/distiller/doscond.yaml``'s."""

    def __init__(self, gpc: int = 1, iterations: int = 1000, lr_adj: float = 1.0,
                 lr_feat: float = 0.01, lr_decay_at: int | None = 400, nodes: int | None = None,
                 real_batch: int = 256, hidden: int = 128, layers: int = 3, pool: str = "mean",
                 beta: float = 0.1, anneal: int = 200, joint_classes: bool = False,
                 edge_features: str = "zeros", readout_weight: float = 0.0,
                 log_every: int = 50) -> None:
        self.gpc = base.positive_int("distiller.gpc", gpc)
        self.iterations = base.positive_int("distiller.iterations", iterations)
        self.lr_adj = base.positive_number("distiller.lr_adj", lr_adj)
        self.lr_feat = base.positive_number("distiller.lr_feat", lr_feat)
        self.beta = base.non_negative_number("distiller.beta", beta)
        self.readout_weight = base.non_negative_number("distiller.readout_weight", readout_weight)
        self.lr_decay_at = (None if lr_decay_at is None
                            else base.positive_int("distiller.lr_decay_at", lr_decay_at))
        self.nodes = None if nodes is None else base.positive_int("distiller.nodes", nodes)
        self.real_batch = base.positive_int("distiller.real_batch", real_batch)
        self.hidden = base.positive_int("distiller.hidden", hidden)
        self.layers = base.positive_int("distiller.layers", layers)
        self.anneal = base.positive_int("distiller.anneal", anneal)
        self.log_every = base.positive_int("distiller.log_every", log_every)
        if pool not in ("mean", "sum"):
            raise ConfigError(f"distiller.pool={pool!r} is not one of ['mean', 'sum']")
        if not isinstance(joint_classes, bool):
            raise ConfigError(f"distiller.joint_classes must be true or false, got "
                              f"{joint_classes!r}")
        self.pool, self.joint = pool, joint_classes
        self.edge_features = learned.check_edge_features(edge_features)

    # ------------------------------------------------------------------ initialisation
    def _initial(self, graphs: list[Data], labels: Tensor, spec: FeatureSpec, n: int,
                 gen: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """Per class, ``gpc`` random real graphs of at most ``n`` nodes (larger ones only when
        too few fit, cut to their first ``n``), zero-padded: features, ±5 logits, labels."""
        xs, adjs, ys = [], [], []
        for c in labels.unique().tolist():
            members = (labels == c).nonzero().view(-1)
            small = members[torch.tensor([graphs[i].num_nodes <= n for i in members.tolist()])]
            pool = small if len(small) else members
            if len(pool) < self.gpc:  # too few: draw with replacement
                pick = pool[torch.randint(len(pool), (self.gpc,), generator=gen)]
            else:
                pick = pool[torch.randperm(len(pool), generator=gen)[: self.gpc]]
            for i in pick.tolist():
                x, a = learned.padded(graphs[i], spec, n)
                xs.append(x)
                adjs.append(a)
                ys.append(c)
        return torch.stack(xs), torch.stack(adjs), torch.tensor(ys)

    # ------------------------------------------------------------------ distillation
    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        ctx, gen, labels = learned.start(train, seed, ctx)
        device, spec = ctx.device, train.features
        n = self.nodes or learned.mean_nodes(train.graphs)
        x0, adj0, y_syn = self._initial(train.graphs, labels, spec, n, gen)
        sparsity = float(adj0.mean())
        feat = x0.to(device).requires_grad_()
        logits = learned.initial_logits(adj0).to(device).requires_grad_()
        y_syn = y_syn.to(device)
        classes = labels.unique().tolist()
        real = {c: learned.RealGraphs.collate([g for g, y in zip(train.graphs, labels.tolist(),
                                                         strict=True) if y == c], spec, device)
                for c in classes}
        opt_adj = torch.optim.Adam([logits], lr=self.lr_adj)
        opt_feat = torch.optim.Adam([feat], lr=self.lr_feat)
        dims = [feat.size(-1)] + [self.hidden] * self.layers
        groups = [classes] if self.joint else [[c] for c in classes]
        curve_loss = 0.0
        for it in trange(self.iterations, disable=not ctx.progress, leave=False,
                         desc="doscond"):
            if self.lr_decay_at is not None and it == self.lr_decay_at:
                for opt in (opt_adj, opt_feat):
                    for group in opt.param_groups:
                        group["lr"] *= 0.1
            net = MatchingGCN(dims, train.num_classes, self.pool, device, gen)
            temperature = learned.annealed_temperature(it, self.anneal)
            sym = learned.symmetric(logits)
            adj = learned.relaxed_adjacency(sym, temperature, gen, mirror_noise=False)
            match = torch.zeros((), device=device)
            for group in groups:
                rx, radj, rbatch, ry = self._real_batch(real, group, gen, device)
                loss_real = nn.functional.cross_entropy(net.sparse(rx, radj, rbatch, len(ry)), ry)
                g_real = [g.detach() for g in torch.autograd.grad(loss_real, net.params)]
                mask = torch.isin(y_syn, torch.tensor(group, device=device))
                loss_syn = nn.functional.cross_entropy(net.dense(feat[mask], adj[mask]),
                                                       y_syn[mask])
                g_syn = torch.autograd.grad(loss_syn, net.params, create_graph=True)
                match = match + gradient_distance(list(g_syn), g_real)
            penalty = self.beta * torch.relu(torch.sigmoid(sym).mean() - sparsity)
            if self.readout_weight:  # scaled as the original: (C - 1) / C per synthetic graph
                penalty = penalty + self.readout_weight * (len(classes) - 1) / len(classes) / len(
                    y_syn) * propagated_readout_norm(feat, adj, self.layers, self.pool)
            loss = match + penalty
            learned.check_finite(loss, "doscond", f"iteration {it}")
            opt_adj.zero_grad()
            opt_feat.zero_grad()
            loss.backward()
            opt_adj.step()
            opt_feat.step()
            curve_loss = float(loss.detach())
            if (it + 1) % self.log_every == 0 or it + 1 == self.iterations:
                ctx.log({"iteration": it + 1, "loss": curve_loss, "match": float(match.detach()),
                         "temperature": temperature})
        edges = learned.edges_of(logits.detach().cpu())
        return learned.discretised_set(edges, feat.detach().cpu(), y_syn.cpu(), train,
                                       self.edge_features, {"initial_sparsity": sparsity,
                                                            "final_loss": curve_loss})

    def _real_batch(self, real: dict[int, learned.RealGraphs], group: list[int],
                    gen: torch.Generator,
                    device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Up to ``real_batch`` random real graphs of each class of ``group``, as one union:
        features, normalised sparse adjacency, graph of each node, labels."""
        parts, offset, graphs = [], 0, 0
        for c in group:
            r = real[c]
            idx = torch.randperm(r.num_graphs, generator=gen)[: self.real_batch].to(device)
            x, src, dst, w, batch = r.batch(idx)
            parts.append((x, src + offset, dst + offset, w, batch + graphs,
                          torch.full((len(idx),), c, device=device)))
            offset += x.size(0)
            graphs += len(idx)
        ax, src, dst, w, batch, y = (torch.cat(p) for p in zip(*parts, strict=True))
        return ax, learned.csr(src, dst, w, len(ax)), batch, y
