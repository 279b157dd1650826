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
        nodes = torch.tensor([0] + [s["x"].size(0) for s in stores]).cumsum(0)
        edges = torch.tensor([0] + [s["edge_index"].size(1) for s in stores]).cumsum(0)
        shift = torch.repeat_interleave(nodes[:-1], edges.diff())
        return cls(
            x=torch.cat([s["x"] for s in stores]),
            edge_index=torch.cat([s["edge_index"] for s in stores], dim=1).long() + shift,
            y=torch.cat([s["y"].view(-1) for s in stores]).long(),
            node_ptr=nodes, edge_ptr=edges,
            x_cont=_cat_optional([s.get("x_cont") for s in stores]),
            edge_attr=_cat_optional([s.get("edge_attr") for s in stores]),
        )

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


def index_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest of int32 / int64 that indexes ``size`` positions: half the memory (and
    bandwidth) for index arrays of up to two billion rows."""
    return np.int32 if size < 2**31 else np.int64


def _cat_optional(parts: list[Tensor | None]) -> Tensor | None:
    """Concatenate the parts, or ``None`` unless every graph has one."""
    return None if any(p is None for p in parts) else torch.cat(parts)
