"""Collated graphs (one node table, one edge table) and the vectorised synthetic generator."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
import torch
from mirage_digest import DATASETS, TU_CASES, data_digest
from omegaconf import OmegaConf
from test_mirage_distiller import synthetic
from torch_geometric.utils import is_undirected, to_networkx

from mirage.collated import Collated
from mirage.data import TrainSplit, load_dataset
from mirage.distill.base import build_distiller
from mirage.distill.distiller import Mirage
from mirage.synthetic import make_collated, make_graphs


def _same(a, b) -> bool:
    keys = set(a.keys())
    return keys == set(b.keys()) and all(
        torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in keys)


def test_storage_and_subsets_are_the_graphs_themselves() -> None:
    """A table read from an InMemoryDataset's storage holds the same graphs as the list it
    collated; ``take`` is the list of those graphs, in order; bytes count as for the list."""
    from torch_geometric.data import InMemoryDataset

    from mirage.distill.base import nbytes

    graphs = synthetic().graphs
    data, slices = InMemoryDataset.collate(graphs)
    table = Collated.from_storage(data, slices)
    assert all(_same(a, b) for a, b in zip(table, graphs, strict=True))
    index = [5, 0, 17, 17, 3]
    part = table.take(index)
    assert all(_same(a, graphs[i]) for a, i in zip(part, index, strict=True))
    assert nbytes(part) == nbytes([graphs[i] for i in index]) and nbytes(table) == nbytes(graphs)


def test_round_trip_keeps_every_graph() -> None:
    graphs = synthetic().graphs  # node labels, edge labels, isolated nodes
    table = Collated.of(graphs)
    assert len(table) == len(graphs) and table.num_nodes == sum(g.num_nodes for g in graphs)
    assert all(_same(a, b) for a, b in zip(table, graphs, strict=True))
    assert _same(table[-1], graphs[-1]) and len(table[2:5]) == 3
    assert Collated.of(table) is table
    with pytest.raises(IndexError):
        table[len(graphs)]
    # A graph is a copy: saving one never drags the whole table along.
    assert table[0].x.untyped_storage().nbytes() == table[0].x.numel() * 8


@pytest.mark.parametrize("kwargs", [{"hops": 2, "threshold": 1, "max_patterns": 10},
                                    {"hops": 1, "threshold": 0.2, "max_size": 2,
                                     "cross_class_filter": True},
                                    {"hops": 2, "budget_bytes": 3000}])
def test_mirage_on_a_table_equals_mirage_on_the_list(kwargs: dict) -> None:
    data = synthetic()
    as_table = TrainSplit(data.name, Collated.of(data.graphs), data.num_classes, data.features)
    a = Mirage(**kwargs).distill(data, seed=0)
    b = Mirage(**kwargs).distill(as_table, seed=0)
    assert a.support == b.support and len(a.samples) == len(b.samples)
    assert all(_same(x, y) for x, y in zip(a.samples, b.samples, strict=True))


def test_synthetic_classes_differ_by_one_triangle() -> None:
    graphs = make_graphs(300, 8, 3, seed=0)
    assert [int(g.y) for g in graphs[:4]] == [0, 1, 0, 1]
    for g in graphs:
        nxg = to_networkx(g, to_undirected=True)
        assert is_undirected(g.edge_index) and nx.is_connected(nxg)
        assert 6 <= g.num_nodes <= 10
        triangles = sum(nx.triangles(nxg).values()) // 3
        assert (triangles, len(nx.cycle_basis(nxg))) == ((1, 1) if int(g.y) else (0, 0))
    assert len({int(g.x.max()) for g in graphs}) > 1  # labels vary
    again = make_collated(300, 8, 3, seed=0)
    assert torch.equal(again.edge_index, Collated.of(graphs).edge_index)
    assert not torch.equal(make_collated(300, 8, 3, seed=1).x, again.x)


@pytest.mark.parametrize("name", DATASETS)
@pytest.mark.parametrize("collated", [False, True])
@pytest.mark.slow
def test_tuned_sets_are_byte_identical_to_before_the_collated_path(
        run_cfg, shared_cache: Path, name: str, collated: bool) -> None:
    """The tuned sets of NCI1, DD and ogbg-molbace, from a list of graphs or from one table,
    are the very sets the code made before Mirage read collated tables."""
    expected = json.loads((Path(__file__).parent / "fixtures" / "mirage_sets.json").read_text())
    cfg = run_cfg(f"dataset={name}", "distiller=mirage")
    data = load_dataset(cfg.dataset, Path(cfg.data_root), shared_cache)
    train = data.train_split()
    graphs = Collated.of(train.graphs) if collated else list(train.graphs)
    train = TrainSplit(train.name, graphs, train.num_classes, train.features)
    ds = build_distiller(OmegaConf.to_container(cfg.distiller, resolve=True)).distill(train, 0)
    assert {"graphs": ds.num_graphs, "bytes": ds.nbytes(), "sha256": ds.fingerprint()} == \
        expected[name]


@pytest.fixture(scope="module")
def syn_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from experiments.tools import make_tu

    root = tmp_path_factory.mktemp("syn")
    for name in make_tu.SPECS:
        make_tu.write(name, root)
    return root


@pytest.mark.parametrize("case", [
    c if c == "mutag" or c.startswith("syn") else pytest.param(c, marks=pytest.mark.slow)
    for c in TU_CASES])
def test_tu_tables_hold_the_graphs_the_per_graph_loader_made(
        run_cfg, shared_cache: Path, syn_root: Path, case: str) -> None:
    """TU datasets load as one table (no per-graph objects) and every graph of every split is
    byte for byte what the per-graph loader made (digests taken from it, commit 5b39b8b):
    labels, degree features, kept labels, continuous attributes with and without use."""
    expected = json.loads((Path(__file__).parent / "fixtures" / "tu_data.json").read_text())
    extra = [f"data_root={syn_root}"] if case.startswith("syn") else []
    cfg = run_cfg(*TU_CASES[case], *extra)
    data = load_dataset(cfg.dataset, Path(cfg.data_root), shared_cache)
    assert isinstance(data.train, Collated)
    assert data_digest(data) == expected[case]
