"""Computation trees of message-passing GNNs and exact canonical ids for them.

The depth-``L`` computation tree ``T_L(v)`` of a node ``v`` is what an ``L``-layer message-passing
GNN sees from ``v``: the root copies ``v``; every tree node above depth ``L`` gets one child per
graph neighbour of its original node (the node it came from included, so walks backtrack), joined
by that edge's label; nodes at depth ``L`` are leaves. With ``label`` the id of a node's whole
categorical feature tuple and ``elabel`` the id of an edge's whole feature tuple::

    T_0(v) = label(v)
    T_k(v) = (label(v), sorted multiset of (elabel(u -> v), T_{k-1}(u)) over edges u -> v)

:func:`tree_ids` computes these ids for every node of many graphs at once (a numpy refinement,
one round per level, like Weisfeiler-Leman but with injective relabelling instead of hashing), so
two nodes get the same id iff their trees are isomorphic as labelled rooted trees.
:func:`computation_tree` materialises one tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from mirage.collated import Collated, index_dtype

# Composite keys ``a * range_b + b`` stay below this bound, so int64 arithmetic never overflows.
_KEY_LIMIT = 1 << 62


def compact(key: np.ndarray, bound: int) -> tuple[np.ndarray, int]:
    """Relabel non-negative int64 keys ``< bound`` to ``0..K-1`` in increasing key order.

    Args:
        key: ``[n]`` int64 keys.
        bound: an upper bound (exclusive) of the keys.

    Returns:
        ``([n]`` int64 ids, ``K)``; equal ids iff equal keys.
    """
    if key.size == 0:
        return key.astype(np.int64), 0
    if bound <= max(4 * key.size, 1 << 16):  # small key range: a lookup table beats sorting
        seen = np.zeros(bound, dtype=bool)
        seen[key] = True
        remap = np.cumsum(seen, dtype=np.int64) - 1
        return remap[key], int(remap[-1]) + 1
    # A hash factorisation, then a sort of the distinct keys only: the same ids as
    # np.unique(return_inverse=True), several times faster when few keys are distinct (tree ids).
    ids, distinct = pd.factorize(key, sort=True)
    return ids.astype(np.int64, copy=False), len(distinct)


def intern_rows(rows: np.ndarray) -> np.ndarray:
    """Give every distinct row of an integer matrix its own id.

    Same result as ``np.unique(rows, axis=0, return_inverse=True)[1]`` (ids in lexicographic row
    order), but columns are folded into mixed-radix int64 keys, which is ~20x faster.

    Args:
        rows: ``[n, c]`` integer array (``c >= 1``).

    Returns:
        ``[n]`` int64 ids in ``0..K-1``.
    """
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"intern_rows expects a [n, c>=1] array, got shape {rows.shape}")
    if rows.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    lows, highs = rows.min(axis=0).tolist(), rows.max(axis=0).tolist()
    key, bound = np.zeros(rows.shape[0], dtype=np.int64), 1
    for c, col in enumerate(np.ascontiguousarray(rows.T, dtype=np.int64)):
        width = highs[c] - lows[c] + 1
        if bound * width >= _KEY_LIMIT:
            key, bound = compact(key, bound)
        key *= width
        key += col - lows[c]
        bound *= width
    return compact(key, bound)[0]


@dataclass(frozen=True)
class InEdges:
    """Incoming edges grouped by target node (CSR).

    The children of node ``v`` in a computation tree are ``src[ptr[v]:ptr[v+1]]``, reached over
    the edges ``eid[ptr[v]:ptr[v+1]]`` (indices into the graph's ``edge_index``).
    """

    ptr: np.ndarray  # [N + 1] int64
    src: np.ndarray  # [E] int32 (int64 from 2**31 nodes or edges on)
    eid: np.ndarray  # [E] int32 (likewise)

    @classmethod
    def build(cls, edge_index: np.ndarray, num_nodes: int) -> InEdges:
        """From a ``[2, E]`` edge index (``source, target`` rows)."""
        edge_index = np.asarray(edge_index)
        dtype = index_dtype(max(num_nodes, edge_index.shape[1]))
        # Stable order by target (timsort: edges grouped by graph come in long sorted runs).
        eid = np.argsort(edge_index[1], kind="stable").astype(dtype)
        ptr = np.zeros(num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(edge_index[1], minlength=num_nodes), out=ptr[1:])
        return cls(ptr, edge_index[0].astype(dtype)[eid], eid)

    @property
    def num_nodes(self) -> int:
        return self.ptr.size - 1

    @property
    def degree(self) -> np.ndarray:
        """``[N]`` int64 number of incoming edges (= neighbours, edges being stored both ways)."""
        return np.diff(self.ptr)


def tree_ids(node_label: np.ndarray, edge_label: np.ndarray | None, in_edges: InEdges,
             depth: int) -> np.ndarray:
    """Canonical ids of the depth-``depth`` computation trees of all nodes.

    Args:
        node_label: ``[N]`` non-negative int ids of node labels.
        edge_label: ``[E]`` non-negative int ids of edge labels (indexed like ``edge_index``), or
            ``None`` for unlabelled edges (the same ids as all-zero labels, without their arrays).
        in_edges: the graph's incoming edges (:class:`InEdges`).
        depth: ``L >= 0``.

    Returns:
        ``[N]`` int64 ids in ``0..K-1``: equal iff the trees are isomorphic as labelled rooted
        trees (node and edge labels included). Ids are only comparable within one call.
    """
    node_label = np.asarray(node_label, dtype=np.int64)
    n = node_label.size
    ids, num_ids = compact(node_label, int(node_label.max(initial=0)) + 1)
    if depth == 0 or n == 0:
        return ids
    small = index_dtype(max(n, in_edges.src.size))  # ids and positions: all below n or E
    deg = in_edges.degree
    max_deg = int(deg.max(initial=0))
    # Nodes by decreasing degree: the nodes with more than j children are a prefix, and the nodes
    # of one degree d a block, rows above[d] .. above[d - 1] (above[-1] = n).
    # (A stable sort of 16-bit keys is a radix sort: linear, where int64 keys take a merge sort.)
    rank = max_deg - deg
    order = np.argsort(rank.astype(np.uint16) if max_deg < 2**16 else rank,
                       kind="stable").astype(small)
    del rank
    above = n - np.cumsum(np.bincount(deg, minlength=max_deg + 1))  # [j] = #nodes deg > j
    blocks = [(d, int(above[d]), int(above[d - 1]) if d else n) for d in range(max_deg + 1)]
    blocks = [(d, lo, hi) for d, lo, hi in blocks if hi > lo]
    # The children laid out in that order: those of the i-th node are rows start[i]:start[i+1]
    # of ``src`` / ``elabel``, so the children of all nodes of degree d are one [n_d, d] block.
    start = np.zeros(n + 1, dtype=small)
    np.cumsum(deg[order], out=start[1:])
    del deg  # memory: at a million graphs every [N] array is 100-200 MB
    src = np.empty(in_edges.src.size, dtype=small)
    elabel = None if edge_label is None else np.empty(src.size, dtype=np.int64)
    for d, lo, hi in blocks:
        if d:  # one block at a time: the [n_d, d] CSR positions never exist all at once
            pos = (in_edges.ptr[order[lo:hi], None] + np.arange(d)).ravel()
            src[start[lo]:start[hi]] = in_edges.src[pos]
            if elabel is not None:
                elabel[start[lo]:start[hi]] = np.asarray(edge_label)[in_edges.eid[pos]]
    num_elabels = 1 if elabel is None else int(elabel.max(initial=0)) + 1
    label_ord, num_labels = compact(node_label[order], int(node_label.max(initial=0)) + 1)
    label_ord = label_ord.astype(small)
    for _ in range(depth):
        # Each child as the pair (edge label, child's tree id one level down); unlabelled edges:
        # the id itself, already dense (ids are 0..num_ids-1).
        child, num_child = ids.astype(small, copy=False)[src], num_ids
        del ids
        if elabel is not None:
            child, num_child = compact(elabel * num_ids + child, num_elabels * num_ids)
        # Every node's children sorted, in place: a canonical order of the multiset.
        for d, lo, hi in blocks:
            if d > 1:
                child[start[lo]:start[hi]].reshape(hi - lo, d).sort(axis=1)
        # Fold the sorted children into one key per node: key = (...(label, c_1), c_2, ...).
        key, bound = label_ord.astype(np.int64), num_labels
        block_bound = [0] * (max_deg + 1)  # bound of the keys of the nodes of degree d
        for j in range(max_deg + 1):
            block_bound[j] = bound  # the nodes of degree j are complete
            m = int(above[j])
            if m == 0:
                break
            if bound * num_child >= _KEY_LIMIT:
                key[:m], bound = compact(key[:m], bound)
            key[:m] *= num_child
            key[:m] += child[start[:m] + j]
            bound *= num_child
        del child
        # Nodes of one degree went through the same fold: intern them block by block. Keys
        # compare as the tuples (label, sorted children), so the ids do not depend on the radix.
        ids, num_ids = np.empty(n, dtype=np.int64), 0
        for d, lo, hi in blocks:
            local, count = compact(key[lo:hi], block_bound[d])
            ids[order[lo:hi]] = local + num_ids
            num_ids += count
    return ids


@dataclass(frozen=True)
class ComputationTree:
    """One materialised computation tree, in breadth-first order (the root is position 0)."""

    nodes: np.ndarray  # [n] source-graph node of every tree node
    edge_index: np.ndarray  # [2, n - 1] tree edges child -> parent (tree positions)
    edge_ids: np.ndarray  # [n - 1] source-graph edge (child's node -> parent's node) of each
    depth: np.ndarray  # [n] depth of every tree node (root 0)
    root: int = 0


def computation_tree(in_edges: InEdges, root: int, depth: int) -> ComputationTree:
    """Unroll the depth-``depth`` computation tree of node ``root``.

    Its size is ``1 + sum over levels of the degrees along all walks``, so keep ``depth`` small
    on dense graphs.
    """
    nodes = [np.array([root], dtype=np.int64)]
    parents, edge_ids, depths = [], [], [np.zeros(1, dtype=np.int64)]
    frontier, frontier_pos, size = nodes[0], np.zeros(1, dtype=np.int64), 1
    for level in range(1, depth + 1):
        counts = in_edges.ptr[frontier + 1] - in_edges.ptr[frontier]
        total = int(counts.sum())
        # CSR positions of all children of the frontier, frontier node by frontier node.
        starts = np.repeat(in_edges.ptr[frontier] - np.cumsum(counts) + counts, counts)
        pos = starts + np.arange(total, dtype=np.int64)
        frontier = in_edges.src[pos].astype(np.int64)
        nodes.append(frontier)
        edge_ids.append(in_edges.eid[pos].astype(np.int64))
        parents.append(np.repeat(frontier_pos, counts))
        depths.append(np.full(total, level, dtype=np.int64))
        frontier_pos = np.arange(size, size + total, dtype=np.int64)
        size += total
    child = np.arange(1, size, dtype=np.int64)
    parent = np.concatenate(parents) if parents else np.zeros(0, dtype=np.int64)
    return ComputationTree(
        nodes=np.concatenate(nodes),
        edge_index=np.stack([child, parent]),
        edge_ids=np.concatenate(edge_ids) if edge_ids else np.zeros(0, dtype=np.int64),
        depth=np.concatenate(depths),
    )


@dataclass(frozen=True)
class GraphUnion:
    """Graphs (in the :mod:`mirage.data` layout) as one disjoint graph, with interned labels."""

    x: torch.Tensor  # [N, C] categorical node features
    x_cont: torch.Tensor | None  # [N, D] continuous node features, when every graph has them
    edge_index: np.ndarray  # [2, E] global node rows
    edge_attr: torch.Tensor | None  # [E, C_e], when every graph has edge features
    node_label: np.ndarray  # [N] id of the node's whole ``x`` row
    edge_label: np.ndarray | None  # [E] id of the edge's whole ``edge_attr`` row (None without)
    node_graph: np.ndarray  # [N] index (into the input) of the graph of each node
    graph_y: np.ndarray  # [G] label of each graph
    in_edges: InEdges

    @property
    def num_nodes(self) -> int:
        return self.node_graph.size

    @property
    def isolated(self) -> np.ndarray:
        """``[N]`` bool: nodes without neighbours (single-node trees, which Mirage skips)."""
        return self.in_edges.degree == 0


def _rows(t: torch.Tensor) -> np.ndarray:
    """A ``[n]`` or ``[n, c]`` feature tensor as a ``[n, c]`` array."""
    a = t.numpy()
    return a[:, None] if a.ndim == 1 else a


def union_of(graphs: Sequence[Data]) -> GraphUnion:
    """One disjoint graph of ``graphs`` (a list, collated first, or a :class:`Collated`, used as
    is) with its node / edge labels interned. No Python loop over the graphs of a
    :class:`Collated`."""
    table = Collated.of(graphs)
    edge_index = table.edge_index.numpy()
    edge_label = intern_rows(_rows(table.edge_attr)) if table.edge_attr is not None else None
    return GraphUnion(
        x=table.x,
        x_cont=table.x_cont,
        edge_index=edge_index,
        edge_attr=table.edge_attr,
        node_label=intern_rows(_rows(table.x)),
        edge_label=edge_label,
        node_graph=table.node_graph(),
        graph_y=table.y.numpy(),
        in_edges=InEdges.build(edge_index, table.num_nodes),
    )


def ego_tree(in_edges: InEdges, root: int, depth: int) -> ComputationTree:
    """The depth-``depth`` neighbourhood of ``root`` as a :class:`ComputationTree` whose nodes
    are distinct: every node within ``depth`` hops once (breadth-first, ``depth`` = its
    distance), and the in-edges of every node closer than ``depth``. A ``depth``-layer
    message-passing GNN gives the root the same embedding here as on the unrolled tree: every
    node it reads at layer ``l`` has all of its in-edges. On dense graphs it is far smaller
    than the tree, whose walks repeat nodes."""
    dist, order, frontier = {root: 0}, [root], [root]
    for level in range(1, depth + 1):
        nxt = []
        for v in frontier:
            for u in in_edges.src[in_edges.ptr[v]:in_edges.ptr[v + 1]].tolist():
                if u not in dist:
                    dist[u] = level
                    order.append(u)
                    nxt.append(u)
        frontier = nxt
    index = {v: i for i, v in enumerate(order)}
    child, parent, eids = [], [], []
    for v in order:
        if dist[v] < depth:
            lo, hi = int(in_edges.ptr[v]), int(in_edges.ptr[v + 1])
            child += [index[u] for u in in_edges.src[lo:hi].tolist()]
            parent += [index[v]] * (hi - lo)
            eids += in_edges.eid[lo:hi].tolist()
    return ComputationTree(nodes=np.array(order, dtype=np.int64),
                           edge_index=np.array([child, parent], dtype=np.int64).reshape(2, -1),
                           edge_ids=np.array(eids, dtype=np.int64),
                           depth=np.array([dist[v] for v in order], dtype=np.int64))
