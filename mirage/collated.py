"""Many graphs as one node table and one edge table with per-graph offsets.

A :class:`Collated` is a ``Sequence[Data]`` (so it can stand wherever a list of graphs does:
``graphs[i]`` builds that one graph on demand), but code that works on all graphs at once, such as
Mirage's tree ids and mining, reads its tables directly and never builds per-graph objects. That
is what keeps distillation linear at a million graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data


@dataclass(frozen=True, eq=False)
class Collated(Sequence[Data]):
    """Graphs in the :mod:`mirage.data` layout, concatenated.

    Nodes of graph ``g`` are rows ``node_ptr[g]:node_ptr[g+1]``, its edges columns
    ``edge_ptr[g]:edge_ptr[g+1]`` of ``edge_index``, which holds global node rows.
    """

    x: Tensor  # [N, C] categorical node features
    edge_index: Tensor  # [2, E] int64, global node rows, grouped by graph
    y: Tensor  # [G] int64 graph labels
    node_ptr: Tensor  # [G + 1] int64
    edge_ptr: Tensor  # [G + 1] int64
    x_cont: Tensor | None = None  # [N, D] continuous node features
    edge_attr: Tensor | None = None  # [E, C_e] categorical edge features

    @classmethod
    def of(cls, graphs: Sequence[Data]) -> Collated:
        """Collate a list of graphs (each needs ``x``, ``edge_index`` and ``y``); a
        :class:`Collated` is returned as is."""
        if isinstance(graphs, Collated):
            return graphs
        stores = [g.to_dict() for g in graphs]  # one call per graph: attribute access is slow
        nodes = offsets(torch.tensor([s["x"].size(0) for s in stores], dtype=torch.long))
        edges = offsets(torch.tensor([s["edge_index"].size(1) for s in stores], dtype=torch.long))
        return cls(
            x=torch.cat([s["x"] for s in stores]),
            edge_index=global_rows(torch.cat([s["edge_index"] for s in stores], dim=1), nodes,
                                   edges),
            y=torch.cat([s["y"].view(-1) for s in stores]).long(),
            node_ptr=nodes, edge_ptr=edges,
            x_cont=_cat_optional([s.get("x_cont") for s in stores]),
            edge_attr=_cat_optional([s.get("edge_attr") for s in stores]),
        )

    @classmethod
    def from_storage(cls, data: Data, slices: dict[str, Tensor]) -> Collated:
        """From an ``InMemoryDataset``'s collated storage (``_data`` and ``slices``: edge indices
        local to each graph) without making a per-graph object. Graphs need ``x``,
        ``edge_index`` and ``y``; ``edge_attr`` is kept when present."""
        node_ptr, edge_ptr = slices["x"].long(), slices["edge_index"].long()
        edge_attr = data.get("edge_attr")
        return cls(x=data.x.long(), edge_index=global_rows(data.edge_index, node_ptr, edge_ptr),
                   y=data.y.view(-1).long(), node_ptr=node_ptr, edge_ptr=edge_ptr,
                   edge_attr=None if edge_attr is None else edge_attr.long())

    def take(self, index: Sequence[int]) -> Collated:
        """Graphs ``index`` (in that order) as a new table, gathered without a loop."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        nodes, edges = self.node_ptr.diff()[idx], self.edge_ptr.diff()[idx]
        node_ptr, edge_ptr = offsets(nodes), offsets(edges)
        node_rows = (torch.repeat_interleave(self.node_ptr[idx] - node_ptr[:-1], nodes)
                     + torch.arange(int(node_ptr[-1])))
        edge_rows = (torch.repeat_interleave(self.edge_ptr[idx] - edge_ptr[:-1], edges)
                     + torch.arange(int(edge_ptr[-1])))
        shift = torch.repeat_interleave(node_ptr[:-1] - self.node_ptr[idx], edges)
        return Collated(
            x=self.x[node_rows], edge_index=self.edge_index[:, edge_rows] + shift, y=self.y[idx],
            node_ptr=node_ptr, edge_ptr=edge_ptr,
            x_cont=None if self.x_cont is None else self.x_cont[node_rows],
            edge_attr=None if self.edge_attr is None else self.edge_attr[edge_rows])

    @property
    def num_nodes(self) -> int:
        return int(self.node_ptr[-1])

    def node_graph(self) -> np.ndarray:
        """``[N]`` graph index of every node row (int32 below 2**31 graphs)."""
        return np.repeat(np.arange(len(self), dtype=index_dtype(len(self))),
                         self.node_ptr.diff().numpy())

    def __len__(self) -> int:
        return self.node_ptr.numel() - 1

    @overload
    def __getitem__(self, index: int) -> Data: ...

    @overload
    def __getitem__(self, index: slice) -> list[Data]: ...

    def __getitem__(self, index: int | slice) -> Data | list[Data]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"graph {index} of {len(self)}")
        lo, hi = int(self.node_ptr[index]), int(self.node_ptr[index + 1])
        elo, ehi = int(self.edge_ptr[index]), int(self.edge_ptr[index + 1])
        # Copies, not views: a view would keep (and serialise) the whole table behind one graph.
        g = Data(x=self.x[lo:hi].clone(), edge_index=self.edge_index[:, elo:ehi] - lo,
                 y=self.y[index:index + 1].clone(), num_nodes=hi - lo)
        if self.x_cont is not None:
            g.x_cont = self.x_cont[lo:hi].clone()
        if self.edge_attr is not None:
            g.edge_attr = self.edge_attr[elo:ehi].clone()
        return g


def offsets(counts: Tensor) -> Tensor:
    """``[G + 1]`` int64 row offsets of ``G`` consecutive blocks of ``counts`` rows."""
    return torch.cat([torch.zeros(1, dtype=torch.long), counts.long().cumsum(0)])


def global_rows(edge_index: Tensor, node_ptr: Tensor, edge_ptr: Tensor) -> Tensor:
    """``[2, E]`` edge index local to each graph (PyG's collated storage) as global node rows."""
    return edge_index.long() + torch.repeat_interleave(node_ptr[:-1], edge_ptr.diff())


def index_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest of int32 / int64 that indexes ``size`` positions: half the memory (and
    bandwidth) for index arrays of up to two billion rows."""
    return np.int32 if size < 2**31 else np.int64


def _cat_optional(parts: list[Tensor | None]) -> Tensor | None:
    """Concatenate the parts, or ``None`` unless every graph has one."""
    return None if any(p is None for p in parts) else torch.cat(parts)
