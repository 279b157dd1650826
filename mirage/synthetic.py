"""Seeded synthetic graphs whose class depends only on structure, for tests and benchmarks.

Class 0: a random recursive tree (no cycle; node ``i`` hangs below a uniform node ``< i``).
Class 1: such a tree plus one edge from a uniformly chosen node whose parent is not the root to
its grandparent, which closes a triangle (a star, which has no such node, first gets node 2 moved
below node 1). Node labels are random and carry no class signal, so a model must read the
structure. Generated for all graphs at once (no Python loop over graphs or nodes): a million
graphs take seconds.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from mirage.collated import Collated


def _segment_pick(score: torch.Tensor, segment: torch.Tensor, segments: int) -> torch.Tensor:
    """Per segment, the row of the highest ``score`` (rows with ``-inf`` never win; a segment
    without a finite score gets ``-1``)."""
    best = torch.full((segments,), -torch.inf).scatter_reduce(0, segment, score, "amax")
    hit = (score == best[segment]) & torch.isfinite(score)
    rows = torch.full((segments,), -1, dtype=torch.long)
    return rows.scatter_(0, segment[hit], hit.nonzero().view(-1))


def _put_both(edge_index: torch.Tensor, pos: torch.Tensor, a: torch.Tensor,
              b: torch.Tensor) -> None:
    """Write edges ``a -> b`` at columns ``pos`` and ``b -> a`` at ``pos + 1``."""
    edge_index[:, pos] = torch.stack([a, b])
    edge_index[:, pos + 1] = torch.stack([b, a])


def make_collated(num_graphs: int, num_nodes: int, num_labels: int, seed: int) -> Collated:
    """``num_graphs`` graphs of ``num_nodes +- 2`` nodes (at least 3), classes alternating
    0, 1, 0, ... (balanced), labels ``x [n, 1]`` in ``0..num_labels-1``."""
    gen = torch.Generator().manual_seed(seed)
    sizes = (num_nodes + torch.randint(-2, 3, (num_graphs,), generator=gen)).clamp(min=3)
    y = torch.arange(num_graphs) % 2
    node_ptr = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)])
    graph = torch.repeat_interleave(torch.arange(num_graphs), sizes)
    first = node_ptr[graph]  # global row of each node's graph root
    local = torch.arange(graph.numel()) - first
    parent = (torch.rand(graph.numel(), generator=gen) * local).long()  # local index, < local
    in_class1 = y[graph] == 1
    # A class-1 star has no node with a non-root parent: hang node 2 below node 1.
    has = torch.zeros(num_graphs, dtype=torch.bool).index_put_(
        (graph[(local >= 2) & (parent != 0)],), torch.tensor(True))
    parent[in_class1 & (local == 2) & ~has[graph]] = 1
    score = torch.rand(graph.numel(), generator=gen)
    score[~(in_class1 & (local >= 2) & (parent != 0))] = -torch.inf
    child = _segment_pick(score, graph, num_graphs)  # [G], -1 for class 0
    # Edges grouped by graph, placed without sorting: per graph, both directions of each tree
    # edge in node order, then both directions of the triangle's edge.
    closed = child >= 0
    edge_ptr = torch.cat([torch.zeros(1, dtype=torch.long),
                          (2 * (sizes - 1) + 2 * closed).cumsum(0)])
    edge_index = torch.empty(2, int(edge_ptr[-1]), dtype=torch.long)
    node = (local >= 1).nonzero().view(-1)
    pos = edge_ptr[graph[node]] + 2 * (local[node] - 1)
    _put_both(edge_index, pos, first[node] + parent[node], node)
    graphs = closed.nonzero().view(-1)
    child = child[graphs]
    grandparent = first[child] + parent[first[child] + parent[child]]
    _put_both(edge_index, edge_ptr[graphs] + 2 * (sizes[graphs] - 1), child, grandparent)
    x = torch.randint(0, num_labels, (graph.numel(), 1), generator=gen)
    return Collated(x=x, edge_index=edge_index, y=y, node_ptr=node_ptr, edge_ptr=edge_ptr)


def make_graphs(num_graphs: int, num_nodes: int, num_labels: int, seed: int) -> list[Data]:
    """:func:`make_collated` as a list of graphs."""
    return list(make_collated(num_graphs, num_nodes, num_labels, seed))
