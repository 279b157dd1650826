"""Datasets, features and splits.

Every graph is a PyG ``Data`` with a common layout, whatever its source:

* ``x``: ``LongTensor [num_nodes, C]`` of categorical node features (TU node labels, OGB atom
  columns, degree buckets);
* ``x_cont`` (optional): ``FloatTensor [num_nodes, D]`` of continuous node attributes;
* ``edge_index``: ``LongTensor [2, num_edges]``, both directions of every undirected edge;
* ``edge_attr`` (optional): ``LongTensor [num_edges, C_e]`` of categorical edge features;
* ``y``: ``LongTensor [1]``, the class.

A :class:`FeatureSpec` states the cardinality of every categorical column, so models build
their encoders from the spec and never from a dataset's name.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from mirage.errors import ConfigError, DataError


@dataclass(frozen=True)
class FeatureSpec:
    """Shapes of the features every graph of a dataset carries."""

    node_cardinalities: tuple[int, ...]
    node_cont_dim: int = 0
    edge_cardinalities: tuple[int, ...] = ()


@dataclass
class GraphDataset:
    """A dataset split into train / validation / test lists of graphs."""

    name: str
    train: list[Data]
    val: list[Data]
    test: list[Data]
    num_classes: int
    features: FeatureSpec
    split_hash: str
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- splits


def _splitmix64(state: int) -> tuple[int, int]:
    """One step of SplitMix64; returns (new_state, output). Fixed forever, unlike library RNGs."""
    mask = (1 << 64) - 1
    state = (state + 0x9E3779B97F4A7C15) & mask
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return state, z ^ (z >> 31)


def stable_permutation(n: int, seed: int) -> list[int]:
    """A permutation of ``range(n)`` that depends only on ``n`` and ``seed`` (Fisher-Yates).

    Uses its own SplitMix64 generator so that the split never changes with numpy or torch
    versions; the residual modulo bias (< 2**-40 for realistic n) does not matter for splits.
    """
    perm = list(range(n))
    state = seed
    for i in range(n - 1, 0, -1):
        state, r = _splitmix64(state)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def random_split(n: int, seed: int, test_frac: float, val_frac: float) -> dict[str, list[int]]:
    """DosCond / Mirage TU protocol: shuffle; first ``ceil(n*test_frac)`` test, next val, rest."""
    perm = stable_permutation(n, seed)
    n_test, n_val = math.ceil(n * test_frac), math.ceil(n * val_frac)
    return {
        "test": sorted(perm[:n_test]),
        "val": sorted(perm[n_test : n_test + n_val]),
        "train": sorted(perm[n_test + n_val :]),
    }


def split_hash(split: dict[str, Sequence[int]]) -> str:
    """Short content hash of a split, recorded in every row."""
    h = hashlib.sha256()
    for part in ("train", "val", "test"):
        h.update(part.encode())
        h.update(",".join(map(str, split[part])).encode())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- features


def degree_column(graphs: Sequence[Data], max_degree: int) -> int:
    """Give every graph a categorical degree column ``x`` (degrees above the cap share a bucket).

    Returns the column's cardinality.
    """
    for g in graphs:
        deg = torch.bincount(g.edge_index[0], minlength=g.num_nodes)
        g.x = deg.clamp(max=max_degree).view(-1, 1)
    return max_degree + 1


def _as_tu_graph(g: Data, num_node_attr: int, num_edge_attr: int, use_node_attr: bool) -> Data:
    """Split a raw TUDataset graph into categorical / continuous parts (see module docstring)."""
    # ``clone`` because PyG hands out views into the collated storage: keeping a view would keep
    # (and serialise) the whole dataset alive behind every graph.
    out = Data(edge_index=g.edge_index.clone(), y=g.y.view(1).long().clone(), num_nodes=g.num_nodes)
    if g.x is not None:
        labels = g.x[:, num_node_attr:]
        if labels.size(1) > 0:
            out.x = labels.argmax(dim=1, keepdim=True)
        if use_node_attr and num_node_attr > 0:
            out.x_cont = g.x[:, :num_node_attr].float().clone()
    if g.edge_attr is not None and g.edge_attr.size(1) > num_edge_attr:
        out.edge_attr = g.edge_attr[:, num_edge_attr:].argmax(dim=1, keepdim=True)
    return out


# --------------------------------------------------------------------------- loaders


def _link_source(source: Path, target: Path, entries: Sequence[str]) -> None:
    """Expose read-only source files inside a writable cache folder through symlinks."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        src, dst = source / entry, target / entry
        if src.exists() and not dst.exists():
            dst.symlink_to(src.resolve(), target_is_directory=src.is_dir())


def _missing_data(path: Path, name: str, err: BaseException) -> DataError:
    return DataError(
        f"could not load dataset '{name}' from {path}: {err}. Put the raw files there, set "
        "data_root (or the MIRAGE_DATA_ROOT environment variable) to a folder that holds them, "
        "or allow network access so the loader can download them"
    )


def load_tu(cfg: Any, data_root: Path, cache_dir: Path) -> tuple[list[Data], FeatureSpec, dict]:
    """Load a TU dataset with PyG's ``TUDataset``; processed files go under ``cache_dir``."""
    from torch_geometric.datasets import TUDataset

    name = cfg.name
    source = data_root / "TU" / name
    root = cache_dir / "datasets" / "TU"
    _link_source(source, root / name, ["raw"])
    try:
        ds = TUDataset(str(root), name=name, use_node_attr=True, use_edge_attr=True)
    except Exception as err:
        raise _missing_data(source, name, err) from err
    graphs = [
        _as_tu_graph(ds[i], ds.num_node_attributes, ds.num_edge_attributes, cfg.use_node_attr)
        for i in range(len(ds))
    ]
    has_labels = graphs[0].get("x") is not None
    cont = graphs[0].x_cont.size(1) if graphs[0].get("x_cont") is not None else 0
    if cfg.degree_features or (not has_labels and cont == 0):
        max_deg = cfg.max_degree or max(
            int(torch.bincount(g.edge_index[0], minlength=g.num_nodes).max()) for g in graphs
        )
        node_cards: tuple[int, ...] = (degree_column(graphs, max_deg),)
    elif has_labels:
        node_cards = (ds.num_node_labels,)
    else:  # continuous attributes only: a constant categorical column keeps ``x`` uniform
        for g in graphs:
            g.x = torch.zeros(g.num_nodes, 1, dtype=torch.long)
        node_cards = (1,)
    edge_cards = (ds.num_edge_labels,) if graphs[0].get("edge_attr") is not None else ()
    return graphs, FeatureSpec(node_cards, cont, edge_cards), {"source": str(source)}


def _allow_pyg_pickles() -> None:
    """ogb 1.3.6 calls ``torch.load`` without ``weights_only``; torch >= 2.6 needs an allow-list."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    torch.serialization.add_safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])


def load_ogb(cfg: Any, data_root: Path, cache_dir: Path) -> tuple[list[Data], FeatureSpec, dict]:
    """Load an ``ogbg-*`` dataset with OGB's ``PygGraphPropPredDataset`` and its official split."""
    from ogb.graphproppred import PygGraphPropPredDataset
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims

    name = cfg.name
    folder = name.replace("-", "_")
    source = data_root / "OGB" / folder
    root = cache_dir / "datasets" / "OGB"
    _link_source(source, root / folder, ["raw", "split", "mapping", "RELEASE_v1.txt"])
    _allow_pyg_pickles()
    try:
        ds = PygGraphPropPredDataset(name=name, root=str(root))
        idx = ds.get_idx_split()
    except Exception as err:
        raise _missing_data(source, name, err) from err
    if ds.num_tasks != 1:
        raise ConfigError(f"dataset.name={name} has {ds.num_tasks} tasks; only single-task "
                          "graph classification is supported")
    graphs = []
    for i in range(len(ds)):
        g = ds[i]
        graphs.append(Data(x=g.x.long().clone(), edge_index=g.edge_index.clone(),
                           edge_attr=g.edge_attr.long().clone(), y=g.y.view(1).long().clone(),
                           num_nodes=g.num_nodes))  # clones: see ``_as_tu_graph``
    split = {"train": idx["train"].tolist(), "val": idx["valid"].tolist(),
             "test": idx["test"].tolist()}
    spec = FeatureSpec(tuple(get_atom_feature_dims()), 0, tuple(get_bond_feature_dims()))
    return graphs, spec, {"source": str(source), "split": split}


def load_synthetic(cfg: Any, data_root: Path, cache_dir: Path) -> tuple[list[Data], FeatureSpec,
                                                                        dict]:
    """Seeded labelled graphs whose class is decided by structure (see :mod:`mirage.synthetic`)."""
    from mirage.synthetic import make_graphs

    graphs = make_graphs(cfg.num_graphs, cfg.num_nodes, cfg.num_labels, cfg.seed)
    return graphs, FeatureSpec((cfg.num_labels,), 0, ()), {}


LOADERS = {"tu": load_tu, "ogb": load_ogb, "synthetic": load_synthetic}


def resolve_data_root(data_root: str | None) -> Path:
    """``data_root`` from config, else ``$MIRAGE_DATA_ROOT``, else ``./data``."""
    return Path(data_root or os.environ.get("MIRAGE_DATA_ROOT") or "data").expanduser()


def load_dataset(cfg: Any, data_root: Path, cache_dir: Path) -> GraphDataset:
    """Load ``cfg`` (a ``conf/dataset`` node) and split it into train / val / test."""
    if cfg.loader not in LOADERS:
        raise ConfigError(f"dataset.loader={cfg.loader!r} is not one of {sorted(LOADERS)}")
    graphs, spec, info = LOADERS[cfg.loader](cfg, Path(data_root), Path(cache_dir))
    if not graphs:
        raise DataError(f"dataset '{cfg.name}' is empty ({info.get('source', '')})")
    split = info.pop("split", None)
    if split is None:
        split = random_split(len(graphs), cfg.split.seed, cfg.split.test, cfg.split.val)
    labels = torch.cat([g.y for g in graphs])
    num_classes = int(labels.max()) + 1
    return GraphDataset(
        name=cfg.name,
        train=[graphs[i] for i in split["train"]],
        val=[graphs[i] for i in split["val"]],
        test=[graphs[i] for i in split["test"]],
        num_classes=num_classes,
        features=spec,
        split_hash=split_hash(split),
        info={**info, "split": split},
    )
