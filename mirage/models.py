"""GCN, GIN and GAT graph classifiers over the harness's feature layout.

``GNN.forward(batch)`` takes a PyG ``Batch`` with ``x`` (LongTensor [N, C], categorical),
optional ``x_cont`` (FloatTensor [N, D]), ``edge_index`` [2, E], optional ``edge_attr``
(LongTensor [E, C_e]), ``batch`` [N], optional ``pool_mask`` (BoolTensor [N]) and optional
``pool_weight`` (FloatTensor [P], one per pooled node). It returns logits ``[num_graphs,
num_classes]``. When ``pool_mask`` is present, the readout pools only the masked nodes (Mirage's
tree roots); otherwise all nodes. ``pool_weight`` makes the readout a weighted sum (or mean).

GCN normalises with each node's degree: ``deg`` (LongTensor [N], the degree in the source graph
before any self-loop) when the batch carries it, else the in-degree of ``edge_index``. Carrying
``deg`` makes GCN exact on Mirage's computation trees, whose leaves have lost their edges.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import (
    GATConv,
    GCNConv,
    GINConv,
    GINEConv,
    global_add_pool,
    global_mean_pool,
)
from torch_geometric.utils import degree

from mirage.data import FeatureSpec
from mirage.errors import ConfigError

POOLS = {"sum": global_add_pool, "mean": global_mean_pool}
EMBEDDING_INITS = ("normal", "xavier")


class FeatureEncoder(nn.Module):
    """Sum of one embedding per categorical column (as OGB's AtomEncoder) plus a linear map of
    continuous columns: ``[N, C] (+ [N, D]) -> [N, hidden]``.

    ``init="normal"`` keeps PyTorch's N(0, 1) embeddings; ``"xavier"`` draws them Xavier-uniform
    as OGB's AtomEncoder and BondEncoder do, about 8x smaller at hidden 128, so that a few
    optimiser steps (Mirage trains for tens of steps) move the encodings relatively further."""

    def __init__(self, cardinalities: tuple[int, ...], cont_dim: int, hidden: int,
                 init: str = "normal") -> None:
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.embeddings = nn.ModuleList(nn.Embedding(c, hidden) for c in cardinalities)
        if init == "xavier":
            for emb in self.embeddings:
                nn.init.xavier_uniform_(emb.weight)
        self.cont = nn.Linear(cont_dim, hidden) if cont_dim > 0 else None
        # Each column's first row in the stacked tables (not saved: derived from cardinalities).
        starts = torch.tensor([0, *cardinalities], dtype=torch.long).cumsum(0)[:len(cardinalities)]
        self.register_buffer("starts", starts, persistent=False)

    def forward(self, x: Tensor | None, x_cont: Tensor | None = None,
                x_soft: Tensor | None = None) -> Tensor:
        """``x_soft`` (FloatTensor ``[N, sum(cardinalities)]``, a learned distiller's features)
        replaces ``x``: an embedding lookup is a one-hot row times the embedding matrix, so a soft
        row per column drives the same embeddings."""
        if x_soft is not None:
            blocks = x_soft.split(self.cardinalities, dim=1)
            out = sum(b @ emb.weight for b, emb in zip(blocks, self.embeddings, strict=True))
        else:
            # One bag-sum over the stacked tables instead of a lookup per column and an add each
            # (most of an evaluation pass on OGB's 9 columns). The outputs are the same bits; the
            # tables' gradients are the same sums accumulated in another order, so since 5d8636d
            # a training run can differ from an earlier row of the same config by rounding.
            table = torch.cat([emb.weight for emb in self.embeddings])
            out = nn.functional.embedding_bag(x + self.starts, table, mode="sum")
        if self.cont is not None and x_cont is not None:
            out = out + self.cont(x_cont)
        return out


def gcn_edge_weight(
    edge_index: Tensor, num_nodes: int, deg: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Self-loops plus symmetric normalisation ``1/sqrt((d_i+1)(d_j+1))``: ``([2, E+N], [E+N])``."""
    if deg is None:
        deg = degree(edge_index[1], num_nodes)
    d = deg.float() + 1.0
    loops = torch.arange(num_nodes, device=edge_index.device)
    full = torch.cat([edge_index, torch.stack([loops, loops])], dim=1)
    inv_sqrt = d.rsqrt()
    return full, inv_sqrt[full[0]] * inv_sqrt[full[1]]


class GNN(nn.Module):
    """``num_layers`` message-passing layers (each followed by ``layer_dropout``, as in OGB's
    example GNNs) -> pooled readout -> ``dropout`` -> linear."""

    def __init__(
        self,
        conv: str,
        features: FeatureSpec,
        num_classes: int,
        hidden: int = 128,
        num_layers: int = 3,
        dropout: float = 0.0,
        pool: str = "sum",
        batch_norm: bool = False,
        use_edge_attr: bool = True,
        heads: int = 1,
        mlp_ratio: int = 1,
        jk: str = "last",
        layer_dropout: float = 0.0,
        embedding_init: str = "normal",
    ) -> None:
        super().__init__()
        choices = (("conv", conv, ("gat", "gcn", "gin")), ("pool", pool, POOLS),
                   ("jk", jk, ("last", "sum")), ("embedding_init", embedding_init, EMBEDDING_INITS))
        for key, value, options in choices:
            if value not in options:
                raise ConfigError(f"model.{key}={value!r} is not one of {sorted(options)}")
        if num_layers < 1 or hidden < 1:
            raise ConfigError("model.num_layers and model.hidden must be positive integers")
        for key, p in (("dropout", dropout), ("layer_dropout", layer_dropout)):
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"model.{key} must lie in [0, 1), got {p}")
        if mlp_ratio < 1:
            raise ConfigError(f"model.mlp_ratio must be a positive integer, got {mlp_ratio}")
        for key, value, owner in (("heads", heads, "gat"), ("mlp_ratio", mlp_ratio, "gin")):
            if value != 1 and conv != owner:  # a setting that would be silently ignored
                raise ConfigError(f"model.{key} applies to conv={owner} only (conv={conv})")
        self.conv_type, self.dropout, self.pool, self.jk = conv, dropout, POOLS[pool], jk
        self.layer_dropout = layer_dropout
        self.encoder = FeatureEncoder(features.node_cardinalities, features.node_cont_dim, hidden,
                                      embedding_init)
        # GCNConv has no edge features; GIN and GAT use them when the dataset has them.
        self.edge_encoders = None
        if use_edge_attr and features.edge_cardinalities and conv != "gcn":
            self.edge_encoders = nn.ModuleList(
                FeatureEncoder(features.edge_cardinalities, 0, hidden, embedding_init)
                for _ in range(num_layers)
            )
        self.convs = nn.ModuleList(
            self._conv(conv, hidden, heads, mlp_ratio) for _ in range(num_layers))
        self.norms = nn.ModuleList(
            nn.BatchNorm1d(hidden) if batch_norm else nn.Identity() for _ in range(num_layers)
        )
        self.head = nn.Linear(hidden, num_classes)

    def _conv(self, conv: str, hidden: int, heads: int, mlp_ratio: int) -> nn.Module:
        edge_dim = hidden if self.edge_encoders is not None else None
        if conv == "gcn":
            return GCNConv(hidden, hidden, normalize=False)
        if conv == "gat":
            return GATConv(hidden, hidden // heads, heads=heads, edge_dim=edge_dim)
        inner = mlp_ratio * hidden
        mlp = nn.Sequential(nn.Linear(hidden, inner), nn.BatchNorm1d(inner), nn.ReLU(),
                            nn.Linear(inner, hidden))
        return GINEConv(mlp, train_eps=True) if edge_dim else GINConv(mlp, train_eps=True)

    def node_embeddings(self, data: Any) -> Tensor:
        """Node embeddings ``[N, hidden]``: the last layer's, or (``jk='sum'``) the sum of the input
        encoding and every layer's output. On computation trees both equal the full graph's root
        embeddings wherever each layer's are (GIN, GAT; GCN only with ``deg``)."""
        h = self.encoder(data.get("x"), data.get("x_cont"), data.get("x_soft"))
        total = h
        edge_index = data.edge_index
        weight = None
        if self.conv_type == "gcn":
            edge_index, weight = gcn_edge_weight(edge_index, h.size(0), data.get("deg"))
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            if self.conv_type == "gcn":
                h = conv(h, edge_index, weight)
            elif self.edge_encoders is not None:
                h = conv(h, edge_index, self.edge_encoders[i](data.get("edge_attr"), None,
                                                              data.get("edge_soft")))
            else:
                h = conv(h, edge_index)
            h = norm(h)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
            h = nn.functional.dropout(h, p=self.layer_dropout, training=self.training)
            if self.jk == "sum":
                total = total + h
        return total if self.jk == "sum" else h

    def forward(self, data: Any) -> Tensor:
        g = self.graph_embeddings(data)
        g = nn.functional.dropout(g, p=self.dropout, training=self.training)
        return self.head(g)

    def graph_embeddings(self, data: Any) -> Tensor:
        """Pooled readout ``[num_graphs, hidden]``, before dropout and the linear head."""
        h = self.node_embeddings(data)
        batch = data.get("batch")
        if batch is None:
            batch = h.new_zeros(h.size(0), dtype=torch.long)
        num_graphs = int(data.num_graphs) if hasattr(data, "num_graphs") else 1
        mask = data.get("pool_mask")
        if mask is not None:
            h, batch = h[mask], batch[mask]
        weight = data.get("pool_weight")
        if weight is None:
            return self.pool(h, batch, size=num_graphs)
        # Each pooled node stands for ``weight`` nodes: a weighted sum, or a weighted mean.
        total = global_add_pool(h * weight.view(-1, 1), batch, size=num_graphs)
        if self.pool is global_add_pool:
            return total
        return total / global_add_pool(weight.view(-1, 1), batch, size=num_graphs).clamp(min=1e-12)


def build_model(cfg: Any, features: FeatureSpec, num_classes: int) -> GNN:
    """Build a :class:`GNN` from a ``conf/model`` node."""
    params = {k: v for k, v in dict(cfg).items() if k != "name"}
    try:
        return GNN(features=features, num_classes=num_classes, **params)
    except TypeError as err:
        raise ConfigError(f"model '{cfg.get('name')}': {err}") from err
