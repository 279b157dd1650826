"""Computation trees: canonical ids against a slow nested-tuple reference, and materialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Data

from mirage.distill.trees import (
    InEdges,
    compact,
    computation_tree,
    intern_rows,
    tree_ids,
    union_of,
)


def graph(edges: list[tuple[int, int]], labels: list[list[int]],
          edge_labels: list[list[int]] | None = None, edge_width: int = 1) -> Data:
    """An undirected graph in the harness layout (both directions stored, same edge features)."""
    src = [a for a, b in edges] + [b for a, b in edges]
    dst = [b for a, b in edges] + [a for a, b in edges]
    g = Data(x=torch.tensor(labels, dtype=torch.long).view(len(labels), -1),
             edge_index=torch.tensor([src, dst], dtype=torch.long).view(2, -1),
             y=torch.tensor([0]), num_nodes=len(labels))
    if edge_labels is not None:
        g.edge_attr = torch.tensor(edge_labels + edge_labels, dtype=torch.long).view(-1, edge_width)
    return g


def random_graph(rng: np.random.Generator, max_nodes: int = 9, num_labels: int = 2,
                 num_edge_labels: int = 2) -> Data:
    n = int(rng.integers(1, max_nodes + 1))
    upper = np.triu(rng.random((n, n)) < rng.uniform(0.1, 0.7), 1)
    edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(upper), strict=True)]
    labels = rng.integers(0, num_labels, (n, 2)).tolist()
    edge_labels = rng.integers(0, num_edge_labels, (len(edges), 2)).tolist()
    return graph(edges, labels, edge_labels, edge_width=2)


def reference_forms(graphs: list[Data], depth: int) -> list[tuple]:
    """Slow canonical form of every node's tree: (label tuple, sorted (edge label, child form))."""
    forms = []
    for g in graphs:
        x = [tuple(r) for r in g.x.tolist()]
        attr = ([tuple(r) for r in g.edge_attr.tolist()] if g.get("edge_attr") is not None
                else [()] * g.edge_index.size(1))
        incoming: list[list[tuple[tuple, int]]] = [[] for _ in x]
        for e, (a, b) in enumerate(g.edge_index.t().tolist()):
            incoming[b].append((attr[e], a))
        level = x
        for _ in range(depth):
            level = [(x[v], tuple(sorted((el, level[u]) for el, u in incoming[v])))
                     for v in range(len(x))]
        forms.extend(level)
    return forms


def ids_of(graphs: list[Data], depth: int) -> np.ndarray:
    u = union_of(graphs)
    return tree_ids(u.node_label, u.edge_label, u.in_edges, depth)


def assert_same_partition(ids: np.ndarray, forms: list[tuple]) -> None:
    """Equal ids exactly where the reference forms are equal; ids dense 0..K-1."""
    id_of_form: dict[tuple, int] = {}
    form_of_id: dict[int, tuple] = {}
    for i, form in zip(ids.tolist(), forms, strict=True):
        assert id_of_form.setdefault(form, i) == i, "isomorphic trees got different ids"
        assert form_of_id.setdefault(i, form) == form, "different trees share an id"
    assert sorted(form_of_id) == list(range(len(form_of_id)))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_ids_match_reference_forms(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    graphs = [random_graph(rng) for _ in range(60)]
    assert_same_partition(ids_of(graphs, depth), reference_forms(graphs, depth))


@settings(max_examples=40, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 3))
def test_ids_invariant_under_node_permutation(seed: int, depth: int) -> None:
    rng = np.random.default_rng(seed)
    graphs = [random_graph(rng, max_nodes=7, num_labels=3) for _ in range(6)]
    perms, permuted = [], []
    for g in graphs:
        perm = torch.from_numpy(rng.permutation(g.num_nodes))  # new node i = old node perm[i]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(g.num_nodes)
        shuffle = torch.from_numpy(rng.permutation(g.edge_index.size(1)))
        perms.append(perm.numpy())
        permuted.append(Data(x=g.x[perm], edge_index=inverse[g.edge_index][:, shuffle],
                             edge_attr=g.edge_attr[shuffle], y=g.y, num_nodes=g.num_nodes))
    ids = ids_of(graphs + permuted, depth)
    bounds = np.cumsum([0] + [g.num_nodes for g in graphs + permuted])
    for i, perm in enumerate(perms):
        original = ids[bounds[i]:bounds[i + 1]]
        moved = ids[bounds[len(graphs) + i]:bounds[len(graphs) + i + 1]]
        np.testing.assert_array_equal(moved, original[perm])
    assert_same_partition(ids, reference_forms(graphs + permuted, depth))


def test_edge_labels_matter() -> None:
    a = graph([(0, 1)], [[0], [1]], [[0]])
    b = graph([(0, 1)], [[0], [1]], [[1]])
    np.testing.assert_array_equal(ids_of([a, b], 0)[:2], ids_of([a, b], 0)[2:])
    ids = ids_of([a, b], 1)
    assert ids[0] != ids[2] and ids[1] != ids[3]


def test_whole_feature_tuple_is_the_label() -> None:
    a = graph([(0, 1)], [[0, 0], [1, 0]])
    b = graph([(0, 1)], [[0, 1], [1, 0]])  # differs only in a second column
    ids = ids_of([a, b], 1)
    assert ids[0] != ids[2] and ids[1] != ids[3]


def test_walks_backtrack() -> None:
    # Path a-b: T_2(a) is a -> b -> a (the walk returns to a). Path a-b-a' (a' labelled like a):
    # T_2(a) has two grandchildren, so the trees differ although depth-1 trees agree.
    path2 = graph([(0, 1)], [[0], [1]])
    path3 = graph([(0, 1), (1, 2)], [[0], [1], [0]])
    ids1, ids2 = ids_of([path2, path3], 1), ids_of([path2, path3], 2)
    assert ids1[0] == ids1[2] == ids1[4]
    assert ids2[0] != ids2[2] and ids2[2] == ids2[4]
    tree = computation_tree(union_of([path2]).in_edges, 0, 2)
    np.testing.assert_array_equal(tree.nodes, [0, 1, 0])
    np.testing.assert_array_equal(tree.depth, [0, 1, 2])


def test_isolated_nodes_flagged() -> None:
    g = graph([(0, 1)], [[0], [0], [0], [1]])
    u = union_of([g, g])
    np.testing.assert_array_equal(u.isolated, [False, False, True, True] * 2)
    ids = tree_ids(u.node_label, u.edge_label, u.in_edges, 2)
    assert ids[2] == ids[6] and ids[2] != ids[0] and ids[2] != ids[3]


def test_union_offsets_and_graph_index() -> None:
    a, b = graph([(0, 1)], [[0], [1]]), graph([(0, 1), (1, 2)], [[0], [1], [0]])
    u = union_of([a, b])
    np.testing.assert_array_equal(u.node_graph, [0, 0, 1, 1, 1])
    assert u.edge_index.min() == 0 and set(u.edge_index[:, 2:].ravel()) == {2, 3, 4}
    assert u.edge_attr is None and u.edge_label is None


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_materialised_tree_shape(depth: int) -> None:
    rng = np.random.default_rng(7)
    g = random_graph(rng, max_nodes=8)
    u = union_of([g])
    n = g.num_nodes
    adj = np.zeros((n, n), dtype=np.int64)
    np.add.at(adj, (u.edge_index[0], u.edge_index[1]), 1)
    walks = [np.linalg.matrix_power(adj, k).sum(axis=1) for k in range(depth + 1)]
    forms = reference_forms([g], depth)
    edge_forms = [tuple(r) for r in g.edge_attr.tolist()]
    for v in range(n):
        tree = computation_tree(u.in_edges, v, depth)
        # One tree node per walk of length <= depth starting at v.
        assert tree.nodes.size == sum(int(w[v]) for w in walks)
        assert tree.nodes[0] == v and tree.depth[0] == 0
        child, parent = tree.edge_index
        np.testing.assert_array_equal(child, np.arange(1, tree.nodes.size))
        np.testing.assert_array_equal(tree.depth[child], tree.depth[parent] + 1)
        # Every source edge goes from the child's node into the parent's node.
        np.testing.assert_array_equal(u.edge_index[0, tree.edge_ids], tree.nodes[child])
        np.testing.assert_array_equal(u.edge_index[1, tree.edge_ids], tree.nodes[parent])
        # Inner nodes have one child per neighbour; leaves sit at full depth.
        kids = np.bincount(parent, minlength=tree.nodes.size)
        inner = tree.depth < depth
        np.testing.assert_array_equal(kids[inner], u.in_edges.degree[tree.nodes[inner]])
        assert not kids[~inner].any()

        def form(i: int, c=child, p=parent, t=tree) -> tuple:
            label = tuple(g.x[t.nodes[i]].tolist())
            if t.depth[i] == depth:
                return label
            return label, tuple(sorted((edge_forms[t.edge_ids[e]], form(c[e]))
                                       for e in np.flatnonzero(p == i)))

        assert form(0) == forms[v]


def test_intern_rows_matches_numpy_unique() -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(-3, 4, (500, 5)) * rng.integers(0, 2, (500, 1))
    expected = np.unique(rows, axis=0, return_inverse=True)[1].ravel()
    np.testing.assert_array_equal(intern_rows(rows), expected)
    wide = np.stack([rng.integers(0, 2**40, 300) for _ in range(4)], axis=1)  # forces compaction
    wide[100:] = wide[:200]
    np.testing.assert_array_equal(intern_rows(wide),
                                  np.unique(wide, axis=0, return_inverse=True)[1].ravel())


def test_compact_both_paths() -> None:
    key = np.array([5, 3, 5, 9, 3], dtype=np.int64)
    np.testing.assert_array_equal(compact(key, 10)[0], [1, 0, 1, 2, 0])  # lookup table
    big = key * 10**15
    np.testing.assert_array_equal(compact(big, 10**17)[0], [1, 0, 1, 2, 0])  # sorting
    assert compact(np.zeros(0, dtype=np.int64), 1)[1] == 0


def test_in_edges_csr() -> None:
    edge_index = np.array([[1, 2, 0, 2], [0, 0, 2, 1]])
    csr = InEdges.build(edge_index, 4)
    np.testing.assert_array_equal(csr.ptr, [0, 2, 3, 4, 4])
    np.testing.assert_array_equal(csr.src, [1, 2, 2, 0])
    np.testing.assert_array_equal(edge_index[1, csr.eid], [0, 0, 1, 2])
    np.testing.assert_array_equal(csr.degree, [2, 1, 1, 0])
