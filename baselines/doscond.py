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
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import trange

from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistillContext, DistilledSet, Distiller, positive_int
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
    """One class's real training graphs, collated once, with GCN-normalised edges (self-loops
    included) sorted by target node, so that any subset is gathered by index arithmetic into a
    CSR matrix without a Python loop or a sort. The first propagation of the fixed features,
    ``ax = A_hat @ x``, is computed once here."""

    ax: Tensor  # [nodes, d]
    src: Tensor  # [edges + nodes], sorted by dst within each graph
    dst: Tensor
    weight: Tensor  # 1 / sqrt(deg_src deg_dst), degrees with the self-loop
    node_ptr: Tensor  # [graphs + 1]
    edge_ptr: Tensor  # [graphs + 1]

    @classmethod
    def collate(cls, graphs: list[Data], spec: FeatureSpec, device: torch.device) -> RealGraphs:
        xs, srcs, dsts, node_ptr, edge_ptr = [], [], [], [0], [0]
        for g in graphs:
            n, offset = g.num_nodes, node_ptr[-1]
            loops = torch.arange(n)
            src, dst = torch.cat([g.edge_index[0], loops]), torch.cat([g.edge_index[1], loops])
            order = torch.argsort(dst * n + src)
            xs.append(one_hot_features(g, spec))
            srcs.append(src[order] + offset)
            dsts.append(dst[order] + offset)
            node_ptr.append(offset + n)
            edge_ptr.append(edge_ptr[-1] + len(src))
        src, dst = torch.cat(srcs), torch.cat(dsts)
        if not torch.equal(torch.sort(dst * node_ptr[-1] + src).values,
                           torch.sort(src * node_ptr[-1] + dst).values):
            raise ConfigError("distiller=doscond needs undirected graphs (each edge in both "
                              "directions, as TU and OGB datasets store them)")
        deg = torch.bincount(dst, minlength=node_ptr[-1]).float()
        weight = deg[src].rsqrt() * deg[dst].rsqrt()
        x = torch.cat(xs)
        ax = torch.zeros_like(x).index_add_(0, dst, x[src] * weight.unsqueeze(1))
        as_tensor = lambda v: torch.tensor(v, device=device)  # noqa: E731
        return cls(ax.to(device), src.to(device), dst.to(device), weight.to(device),
                   as_tensor(node_ptr), as_tensor(edge_ptr))

    @property
    def num_graphs(self) -> int:
        return len(self.node_ptr) - 1

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Graphs ``idx`` as one disjoint union: ``ax, src, dst, weight, batch`` (edges sorted
        by ``dst``)."""
        nodes, node_counts = ranges(self.node_ptr, idx)
        edges, edge_counts = ranges(self.edge_ptr, idx)
        new_start = node_counts.cumsum(0) - node_counts
        shift = torch.repeat_interleave(new_start - self.node_ptr[idx], edge_counts)
        batch = torch.repeat_interleave(torch.arange(len(idx), device=idx.device), node_counts)
        return (self.ax[nodes], self.src[edges] + shift, self.dst[edges] + shift,
                self.weight[edges], batch)


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
            h = torch.relu(SymmetricSpmm.apply(adj, h @ w) + b)
        pooled = torch.zeros(num_graphs, h.size(1), device=h.device).index_add_(0, batch, h)
        if self.pool == "mean":
            pooled = pooled / torch.bincount(batch, minlength=num_graphs).clamp(min=1).unsqueeze(1)
        return pooled @ self.params[-2] + self.params[-1]

    def dense(self, x: Tensor, adj: Tensor) -> Tensor:
        """``x [g, n, d]``, ``adj [g, n, n]`` (soft, zero diagonal) -> logits ``[g, classes]``."""
        a = adj + torch.eye(adj.size(-1), device=adj.device)
        d = a.sum(-1).rsqrt()
        a = d.unsqueeze(-1) * a * d.unsqueeze(-2)
        h = x
        for w, b in self._layers():
            h = torch.relu(a @ (h @ w) + b)
        pooled = h.mean(1) if self.pool == "mean" else h.sum(1)
        return pooled @ self.params[-2] + self.params[-1]


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
                 edge_features: str = "zeros", log_every: int = 50) -> None:
        self.gpc = positive_int("distiller.gpc", gpc)
        self.iterations = positive_int("distiller.iterations", iterations)
        for key, value in (("lr_adj", lr_adj), ("lr_feat", lr_feat), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (
                    key != "beta" and value == 0):
                raise ConfigError(f"distiller.{key} must be a positive number, got {value!r}")
        self.lr_adj, self.lr_feat, self.beta = float(lr_adj), float(lr_feat), float(beta)
        self.lr_decay_at = (None if lr_decay_at is None
                            else positive_int("distiller.lr_decay_at", lr_decay_at))
        self.nodes = None if nodes is None else positive_int("distiller.nodes", nodes)
        self.real_batch = positive_int("distiller.real_batch", real_batch)
        self.hidden = positive_int("distiller.hidden", hidden)
        self.layers = positive_int("distiller.layers", layers)
        self.anneal = positive_int("distiller.anneal", anneal)
        self.log_every = positive_int("distiller.log_every", log_every)
        if pool not in ("mean", "sum"):
            raise ConfigError(f"distiller.pool={pool!r} is not one of ['mean', 'sum']")
        if edge_features not in EDGE_FEATURES:
            raise ConfigError(f"distiller.edge_features={edge_features!r} is not one of "
                              f"{list(EDGE_FEATURES)}")
        if not isinstance(joint_classes, bool):
            raise ConfigError(f"distiller.joint_classes must be true or false, got "
                              f"{joint_classes!r}")
        self.pool, self.edge_features, self.joint = pool, edge_features, joint_classes

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
                g = graphs[i]
                k = min(g.num_nodes, n)
                x = torch.zeros(n, sum(spec.node_cardinalities) + spec.node_cont_dim)
                x[:k] = one_hot_features(g, spec)[:k]
                a = torch.zeros(n, n)
                keep = (g.edge_index < k).all(0)
                a[g.edge_index[0, keep], g.edge_index[1, keep]] = 1.0
                xs.append(x)
                adjs.append(a)
                ys.append(c)
        return torch.stack(xs), torch.stack(adjs), torch.tensor(ys)

    # ------------------------------------------------------------------ distillation
    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        ctx = ctx or DistillContext()
        device, spec = ctx.device, train.features
        gen = torch.Generator().manual_seed(seed)
        labels = torch.cat([g.y for g in train.graphs])
        n = self.nodes or max(1, round(sum(g.num_nodes for g in train.graphs) / len(labels)))
        x0, adj0, y_syn = self._initial(train.graphs, labels, spec, n, gen)
        sparsity = float(adj0.mean())
        feat = x0.to(device).requires_grad_()
        logits = (adj0 * 10 - 5).to(device).requires_grad_()
        y_syn = y_syn.to(device)
        classes = labels.unique().tolist()
        real = {c: RealGraphs.collate([g for g, y in zip(train.graphs, labels.tolist(),
                                                         strict=True) if y == c], spec, device)
                for c in classes}
        opt_adj = torch.optim.Adam([logits], lr=self.lr_adj)
        opt_feat = torch.optim.Adam([feat], lr=self.lr_feat)
        dims = [feat.size(-1)] + [self.hidden] * self.layers
        off_diag = 1 - torch.eye(n, device=device)
        groups = [classes] if self.joint else [[c] for c in classes]
        curve_loss = 0.0
        for it in trange(self.iterations, disable=not ctx.progress, leave=False,
                         desc="doscond"):
            if self.lr_decay_at is not None and it == self.lr_decay_at:
                for opt in (opt_adj, opt_feat):
                    for group in opt.param_groups:
                        group["lr"] *= 0.1
            net = MatchingGCN(dims, train.num_classes, self.pool, device, gen)
            temperature = max(0.01 ** (min(it, self.anneal) / self.anneal), 0.01)
            sym = (logits + logits.transpose(1, 2)) / 2
            u = torch.rand(sym.shape, generator=gen).to(device).clamp(1e-6, 1 - 1e-6)
            noise = torch.log(u) - torch.log(1 - u)
            noise = (noise + noise.transpose(1, 2)) / 2
            adj = torch.sigmoid((sym + noise) / temperature) * off_diag
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
            loss = match + penalty
            if not torch.isfinite(loss):
                raise DistillError(f"distiller 'doscond': the matching loss became "
                                   f"{float(loss.detach())} at iteration {it}; lower "
                                   "distiller.lr_adj / "
                                   "distiller.lr_feat")
            opt_adj.zero_grad()
            opt_feat.zero_grad()
            loss.backward()
            opt_adj.step()
            opt_feat.step()
            curve_loss = float(loss.detach())
            if (it + 1) % self.log_every == 0 or it + 1 == self.iterations:
                ctx.log({"iteration": it + 1, "loss": curve_loss, "match": float(match.detach()),
                         "temperature": temperature})
        return self._output(logits.detach().cpu(), feat.detach().cpu(), y_syn.cpu(), train, n,
                            sparsity, curve_loss)

    def _real_batch(self, real: dict[int, RealGraphs], group: list[int], gen: torch.Generator,
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
        crow = torch.zeros(len(ax) + 1, dtype=torch.long, device=device)
        crow[1:] = torch.bincount(dst, minlength=len(ax)).cumsum(0)
        adj = torch.sparse_csr_tensor(crow, src, w, (len(ax), len(ax)), check_invariants=False)
        return ax, adj, batch, y

    def _output(self, logits: Tensor, feat: Tensor, y: Tensor, train: TrainSplit, n: int,
                sparsity: float, final_loss: float) -> DistilledSet:
        spec = train.features
        split = sum(spec.node_cardinalities)
        edge_row = self._edge_row(train)
        samples = []
        for a, x, c in zip(logits, feat, y.tolist(), strict=True):
            edges = ((torch.sigmoid((a + a.T) / 2) > 0.5) & ~torch.eye(n, dtype=torch.bool))
            edge_index = edges.nonzero().T.contiguous()
            g = Data(edge_index=edge_index, x_soft=x[:, :split].clone(), y=torch.tensor([c]),
                     num_nodes=n)
            if spec.node_cont_dim:
                g.x_cont = x[:, split:].clone()
            if edge_row is not None:
                g.edge_soft = edge_row.expand(edge_index.size(1), -1).clone()
            samples.append(g)
        return DistilledSet(samples, meta={
            "nodes_per_graph": n, "initial_sparsity": sparsity, "final_loss": final_loss,
            "edge_density": [float(s.edge_index.size(1)) / (n * (n - 1)) for s in samples]})

    def _edge_row(self, train: TrainSplit) -> Tensor | None:
        """The bond features synthetic edges carry on datasets that have them (OGB): category 0
        of every column (``zeros``) or the training edges' mean one-hot (``mean``)."""
        cards = train.features.edge_cardinalities
        if not cards:
            return None
        if self.edge_features == "zeros":
            return one_hot_columns(torch.zeros(1, len(cards), dtype=torch.long), cards)[0]
        return one_hot_columns(torch.cat([g.edge_attr for g in train.graphs]), cards).mean(0)
