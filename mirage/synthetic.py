"""Seeded synthetic graphs whose class depends only on structure, for fast end-to-end tests.

Class 0: a random recursive tree (no cycle). Class 1: such a tree plus one edge from a node to its
grandparent, which closes a triangle.
Node labels are random and carry no class signal, so a model must read the structure.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected


def make_graph(num_nodes: int, num_labels: int, label: int, gen: torch.Generator) -> Data:
    """One graph: ``x [n, 1]`` random labels, undirected ``edge_index``, ``y [1]``."""
    n = num_nodes + int(torch.randint(-2, 3, (1,), generator=gen))
    parents = [int(torch.randint(0, i, (1,), generator=gen)) for i in range(1, n)]
    if label == 1 and all(p == 0 for p in parents[1:]):
        parents[1] = 1  # a star has no grandparent: hang node 2 below node 1
    edges = [(p, i) for i, p in enumerate(parents, start=1)]
    if label == 1:  # link a node whose parent is not the root to its grandparent
        candidates = [c for c in range(2, n) if parents[c - 1] != 0]
        child = candidates[int(torch.randint(0, len(candidates), (1,), generator=gen))]
        edges.append((child, parents[parents[child - 1] - 1]))
    edge_index = to_undirected(torch.tensor(edges, dtype=torch.long).t(), num_nodes=n)
    x = torch.randint(0, num_labels, (n, 1), generator=gen)
    return Data(x=x, edge_index=edge_index, y=torch.tensor([label]), num_nodes=n)


def make_graphs(num_graphs: int, num_nodes: int, num_labels: int, seed: int) -> list[Data]:
    """``num_graphs`` graphs, classes alternating 0, 1, 0, ... (balanced)."""
    gen = torch.Generator().manual_seed(seed)
    return [make_graph(num_nodes, num_labels, i % 2, gen) for i in range(num_graphs)]
