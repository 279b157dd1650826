"""A GNN with at most ``hops`` layers gives a computation tree's root the embedding its node has
in the full graph (GIN, GAT; GCN only when the trees carry the source degrees)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch_geometric.data import Batch, Data

from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.distiller import Mirage
from mirage.distill.trees import computation_tree, ego_tree, union_of
from mirage.models import build_model

FEATURES = FeatureSpec((3, 2), 0, (2, 3))


def random_graphs(seed: int, count: int = 12) -> list[Data]:
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(count):
        n = int(rng.integers(2, 8))
        upper = np.triu(rng.random((n, n)) < 0.45, 1)
        src, dst = np.nonzero(upper)
        attr = np.stack([rng.integers(0, c, src.size) for c in FEATURES.edge_cardinalities], 1)
        x = np.stack([rng.integers(0, c, n) for c in FEATURES.node_cardinalities], 1)
        graphs.append(Data(
            x=torch.from_numpy(x), edge_index=torch.from_numpy(
                np.concatenate([np.stack([src, dst]), np.stack([dst, src])], 1)),
            edge_attr=torch.from_numpy(np.concatenate([attr, attr])).view(-1, 2),
            y=torch.tensor([int(rng.integers(0, 2))]), num_nodes=n))
    return graphs


def make_model(conv: str, layers: int, jk: str = "last") -> torch.nn.Module:
    cfg = {"name": conv, "conv": conv, "hidden": 16, "num_layers": layers, "dropout": 0.0,
           "pool": "sum", "batch_norm": False, "use_edge_attr": conv != "gcn", "jk": jk}
    torch.manual_seed(0)
    return build_model(OmegaConf.create(cfg), FEATURES, 2).double().eval()


def tree_batch(graphs: list[Data], hops: int, with_degree: bool,
               build=computation_tree) -> tuple[Batch, np.ndarray]:
    """One tree sample per non-isolated node, batched; and those nodes (union indices).
    ``build``: the unrolled tree, or :func:`ego_tree`."""
    u = union_of(graphs)
    roots = np.flatnonzero(~u.isolated)
    samples = []
    for v in roots:
        t = build(u.in_edges, int(v), hops)
        nodes = torch.from_numpy(t.nodes)
        s = Data(x=u.x[nodes], edge_index=torch.from_numpy(t.edge_index),
                 edge_attr=u.edge_attr[torch.from_numpy(t.edge_ids)],
                 pool_mask=torch.from_numpy(t.depth == 0), num_nodes=t.nodes.size)
        if with_degree:
            s.deg = torch.from_numpy(u.in_edges.degree)[nodes]
        samples.append(s)
    return Batch.from_data_list(samples), roots


@torch.no_grad()
def root_and_full_embeddings(conv: str, layers: int, hops: int, with_degree: bool,
                             seed: int = 0, jk: str = "last", build=computation_tree
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    graphs = random_graphs(seed)
    model = make_model(conv, layers, jk)
    full = model.node_embeddings(Batch.from_data_list(graphs))
    batch, roots = tree_batch(graphs, hops, with_degree, build)
    return model.node_embeddings(batch)[batch.pool_mask], full[torch.from_numpy(roots)]


@pytest.mark.parametrize(("conv", "layers", "hops", "with_degree"), [
    ("gin", 2, 2, False),
    ("gin", 3, 3, False),
    ("gin", 2, 3, False),  # fewer layers than hops is exact too
    ("gat", 2, 2, False),
    ("gat", 3, 3, False),
    ("gcn", 2, 2, True),
    ("gcn", 3, 3, True),
])
def test_root_embedding_equals_full_graph(conv: str, layers: int, hops: int,
                                          with_degree: bool) -> None:
    on_trees, on_graphs = root_and_full_embeddings(conv, layers, hops, with_degree)
    torch.testing.assert_close(on_trees, on_graphs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("conv", "layers", "hops", "with_degree"), [
    ("gin", 2, 2, False), ("gin", 2, 3, False), ("gat", 3, 3, False), ("gcn", 2, 2, True)])
def test_ego_neighbourhood_gives_the_root_the_same_embedding(conv: str, layers: int, hops: int,
                                                             with_degree: bool) -> None:
    """ego_tree (every node once, in-edges of the nodes closer than the depth) is as exact as
    the unrolled tree, and never larger on these dense little graphs."""
    on_egos, on_graphs = root_and_full_embeddings(conv, layers, hops, with_degree,
                                                  build=ego_tree)
    torch.testing.assert_close(on_egos, on_graphs, rtol=1e-9, atol=1e-9)
    u = union_of(random_graphs(0))
    for v in np.flatnonzero(~u.isolated).tolist():
        ego, tree = ego_tree(u.in_edges, v, hops), computation_tree(u.in_edges, v, hops)
        assert len(set(ego.nodes.tolist())) == ego.nodes.size <= tree.nodes.size
        assert ego.edge_ids.size <= tree.edge_ids.size


@pytest.mark.parametrize("conv", ["gin", "gat", "gcn"])
def test_jumping_knowledge_sum_is_exact(conv: str) -> None:
    on_trees, on_graphs = root_and_full_embeddings(conv, 3, 3, conv == "gcn", jk="sum")
    torch.testing.assert_close(on_trees, on_graphs, rtol=1e-9, atol=1e-9)
    # The sum is a different readout from the last layer's.
    last, _ = root_and_full_embeddings(conv, 3, 3, conv == "gcn")
    assert not torch.allclose(on_trees, last)


def test_gcn_without_source_degrees_is_not_exact() -> None:
    # Leaves lose their edges, so GCN's degree normalisation changes below the root.
    on_trees, on_graphs = root_and_full_embeddings("gcn", 2, 2, with_degree=False)
    assert (on_trees - on_graphs).abs().amax(dim=1).gt(1e-6).float().mean() > 0.5


def test_more_layers_than_hops_is_not_exact() -> None:
    on_trees, on_graphs = root_and_full_embeddings("gin", 3, 2, with_degree=False)
    assert not torch.allclose(on_trees, on_graphs, rtol=1e-9, atol=1e-9)


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact pairwise distances (the matmul shortcut of cdist is off by ~1e-8)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


@pytest.mark.parametrize(("conv", "carry_degree"), [("gin", False), ("gat", False),
                                                    ("gcn", True)])
@torch.no_grad()
def test_distilled_roots_match_their_source_nodes(conv: str, carry_degree: bool) -> None:
    graphs = random_graphs(1, count=30)
    data = TrainSplit("random", graphs, 2, FEATURES)
    out = Mirage(hops=2, threshold=1, max_size=1, carry_degree=carry_degree).distill(data, 0)
    model = make_model(conv, 2)
    full = model.node_embeddings(Batch.from_data_list(graphs))
    batch = Batch.from_data_list(out.samples)
    roots = model.node_embeddings(batch)[batch.pool_mask]
    # Every root is some training node's exact embedding (its representative occurrence).
    gap = distances(roots, full).amin(dim=1)
    assert out.num_graphs > 20 and gap.max() < 1e-9
    if not carry_degree:
        return
    # Without the degrees, GCN roots mostly match no node at all.
    for g in out.samples:
        del g.deg
    batch = Batch.from_data_list(out.samples)
    roots = model.node_embeddings(batch)[batch.pool_mask]
    assert distances(roots, full).amin(dim=1).gt(1e-6).float().mean() > 0.5
