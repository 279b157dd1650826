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
import json
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from mirage.collated import Collated, global_rows, offsets
from mirage.errors import ConfigError, DataError
from mirage.sources import (
    OGB_ENTRIES,
    cache_folder,
    check_ogb_raw,
    check_tu_raw,
    fetch_missing,
    open_cached,
    reading,
    write_atomic,
)


@dataclass(frozen=True)
class FeatureSpec:
    """Shapes of the features every graph of a dataset carries."""

    node_cardinalities: tuple[int, ...]
    node_cont_dim: int = 0
    edge_cardinalities: tuple[int, ...] = ()


@dataclass(frozen=True)
class TrainSplit:
    """All a distiller may see: the training graphs and the dataset's shape. No validation or
    test graph is reachable from it, so a distiller cannot leak them."""

    name: str
    graphs: Sequence[Data]  # a list, or a mirage.collated.Collated table
    num_classes: int
    features: FeatureSpec


@dataclass
class GraphDataset:
    """A dataset split into train / validation / test lists of graphs."""

    name: str
    train: Sequence[Data]  # lists, or mirage.collated.Collated tables (TU, OGB, synthetic)
    val: Sequence[Data]
    test: Sequence[Data]
    num_classes: int
    features: FeatureSpec
    split_hash: str
    info: dict[str, Any] = field(default_factory=dict)

    def train_split(self) -> TrainSplit:
        """The distiller's view of this dataset (see :class:`TrainSplit`)."""
        return TrainSplit(self.name, self.train, self.num_classes, self.features)


# --------------------------------------------------------------------------- splits

SPLITS_DIR = Path(__file__).parent / "splits"
SPLIT_PARTS = ("train", "val", "test")


def randperm_split(n: int, seed: int, test_frac: float, val_frac: float) -> dict[str, list[int]]:
    """The DosCond / Mirage TU rule: ``torch.manual_seed(seed)``, ``perm = torch.randperm(n)``;
    test = the first ``ceil(n * test_frac)`` of ``perm``, val = the next ``ceil(n * val_frac)``,
    train = the rest, each in ``perm`` order (the order the original scripts train in).

    It depends on torch's generator, so the named TU datasets use committed files of its output
    (:data:`SPLITS_DIR`); this runs only for datasets without one.
    """
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    # Fractions: exact ceilings (``ceil(n * 0.1)`` in floats is one off for some n).
    n_test = math.ceil(n * Fraction(str(test_frac)))
    n_val = math.ceil(n * Fraction(str(val_frac)))
    return {"train": perm[n_test + n_val:], "val": perm[n_test:n_test + n_val],
            "test": perm[:n_test]}


def read_split(path: Path, n: int) -> dict[str, list[int]]:
    """A split file (``{"train": [...], "val": [...], "test": [...]}``) checked against ``n``."""
    try:
        blob = json.loads(path.read_text())
        split = {part: [int(i) for i in blob[part]] for part in SPLIT_PARTS}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"split file {path} is unreadable ({type(err).__name__}: {err}); it needs "
                        f"the keys {list(SPLIT_PARTS)}, each a list of graph indices") from err
    if sorted(i for part in SPLIT_PARTS for i in split[part]) != list(range(n)):
        raise DataError(f"split file {path} does not partition the dataset's {n} graphs")
    return split


def write_split(split: dict[str, Sequence[int]], path: Path) -> None:
    """Write ``split`` as JSON (indices into the dataset's original order), atomically."""
    text = json.dumps({part: list(split[part]) for part in SPLIT_PARTS})
    write_atomic(path, lambda tmp: tmp.write_text(text))


def split_hash(split: dict[str, Sequence[int]]) -> str:
    """Short content hash of a split (order included), recorded in every row."""
    h = hashlib.sha256()
    for part in SPLIT_PARTS:
        h.update(part.encode())
        h.update(",".join(map(str, split[part])).encode())
    return h.hexdigest()[:12]


def split_file(cfg: Any) -> Path | None:
    """The committed split file a dataset config names (``dataset.split.file``), if any."""
    name = cfg.get("split", {}).get("file")
    if not name:
        return None
    path = SPLITS_DIR / name
    if not path.is_file():
        there = sorted(p.name for p in SPLITS_DIR.glob("*.json"))
        raise ConfigError(f"dataset.split.file={name!r}: no such file in {SPLITS_DIR} (valid: "
                          f"{there}, or null to apply the rule)")
    return path


def split_of(cfg: Any, n: int) -> dict[str, list[int]]:
    """The split of a dataset without an official one: its committed file, else the rule."""
    if (path := split_file(cfg)) is not None:
        return read_split(path, n)
    return randperm_split(n, cfg.split.seed, cfg.split.test, cfg.split.val)


# --------------------------------------------------------------------------- features


def keep_node_labels(x: torch.Tensor, keep: Sequence[int], raw_min: int) -> tuple[torch.Tensor,
                                                                                   int]:
    """Keep the raw node labels in ``keep`` as categories ``1..len(keep)``; all others become 0.

    ``x`` holds PyG's label index, the raw label minus the dataset's smallest (``raw_min``).
    The original Mirage code does this on DD (16 residue labels). Returns the new column and
    its cardinality.
    """
    size = max(int(x.max()) + 1, max(keep) - raw_min + 1)
    lut = torch.zeros(size, dtype=torch.long)
    for position, label in enumerate(keep, start=1):
        if label - raw_min >= 0:
            lut[label - raw_min] = position
    return lut[x], len(keep) + 1


def tu_table(ds: Any, use_node_attr: bool) -> tuple[Collated, torch.Tensor | None]:
    """A ``TUDataset`` read from PyG's collated storage as one table, with no per-graph object:
    one-hot edge labels become their index, node attributes ``x_cont``. Returns the table with
    a placeholder ``x`` and the node labels' index column (``None`` without node labels), for
    the caller's choice of node features."""
    raw, slices = ds._data, ds.slices
    # Without node features PyG keeps each graph's node count beside the storage.
    node_ptr = (slices["x"].long() if "x" in slices
                else offsets(torch.tensor(raw._num_nodes, dtype=torch.long)))
    edge_ptr = slices["edge_index"].long()
    edge_index = global_rows(raw.edge_index, node_ptr, edge_ptr)
    attrs, labels, x_cont = ds.num_node_attributes, None, None
    if raw.x is not None:
        if raw.x.size(1) > attrs:
            labels = raw.x[:, attrs:].argmax(dim=1, keepdim=True)
        if use_node_attr and attrs > 0:
            x_cont = raw.x[:, :attrs].float()
    edge_attr = None
    if raw.edge_attr is not None and raw.edge_attr.size(1) > ds.num_edge_attributes:
        edge_attr = raw.edge_attr[:, ds.num_edge_attributes:].argmax(dim=1, keepdim=True)
    table = Collated(x=torch.zeros(int(node_ptr[-1]), 1, dtype=torch.long),
                     edge_index=edge_index, y=raw.y.view(-1).long(), node_ptr=node_ptr,
                     edge_ptr=edge_ptr, x_cont=x_cont, edge_attr=edge_attr)
    return table, labels


def _raw_label_min(source: Path, name: str) -> int:
    """The smallest raw node label of a TU dataset (PyG subtracts it before one-hot encoding)."""
    path = source / "raw" / f"{name}_node_labels.txt"
    with path.open() as f:
        return min(int(line.split(",")[0]) for line in f if line.strip())


# --------------------------------------------------------------------------- loaders


@dataclass(frozen=True)
class RawSource:
    """A dataset's raw files under ``data_root``: the folder, the entries its processed cache is
    keyed by, the cheap check of its files, the cache subfolder and a name for messages."""

    path: Path
    entries: tuple[str, ...]
    check: Callable[[], None]
    kind: str
    what: str


def _download_tu(staging: Path, name: str) -> Path:
    from torch_geometric.datasets import TUDataset

    TUDataset(str(staging), name=name)
    return staging / name / "raw"


def _download_ogb(staging: Path, name: str) -> Path:
    from ogb.graphproppred import PygGraphPropPredDataset

    PygGraphPropPredDataset(name=name, root=str(staging))
    fetched = staging / name.replace("-", "_")
    shutil.rmtree(fetched / "processed", ignore_errors=True)  # processed files go to the cache
    return fetched


def tu_source(cfg: Any, data_root: Path, show: bool) -> RawSource:
    """``<data_root>/TU/<name>``, downloaded first where the root takes downloads; checks
    ``dataset.keep_node_labels`` against the files (the labels must exist to be kept)."""
    name, source = cfg.name, data_root / "TU" / cfg.name
    what = f"TU dataset {name!r}"
    fetch_missing(data_root, source / "raw", lambda staging: _download_tu(staging, name), what,
                  show)
    keep = cfg.get("keep_node_labels")
    has_labels = (source / "raw" / f"{name}_node_labels.txt").is_file()
    if keep is not None and (not has_labels or cfg.degree_features
                             or not all(isinstance(v, int) for v in keep)):
        raise ConfigError(f"dataset.keep_node_labels={keep!r}: needs a list of integer node labels "
                          f"and a dataset that uses them ({name} has node labels: {has_labels}, "
                          f"degree_features: {cfg.degree_features}); use null to keep every label")
    return RawSource(source, ("raw",), lambda: check_tu_raw(source / "raw", name), "TU", what)


def ogb_source(cfg: Any, data_root: Path, show: bool) -> RawSource:
    """``<data_root>/OGB/<name with _>``, downloaded first where the root takes downloads."""
    name, source = cfg.name, data_root / "OGB" / cfg.name.replace("-", "_")
    what = f"OGB dataset {name!r}"
    _allow_pyg_pickles()
    fetch_missing(data_root, source, lambda staging: _download_ogb(staging, name), what, show)
    return RawSource(source, OGB_ENTRIES, lambda: check_ogb_raw(source), "OGB", what)


SOURCES = {"tu": tu_source, "ogb": ogb_source}  # loaders without raw files are not listed
_checked: set[tuple[str, str]] = set()  # (folder, fingerprint) that passed, in this process


def checked_source(cfg: Any, data_root: Path, cache_dir: Path,
                   show: bool = False) -> RawSource | None:
    """A run's input check, before any row: the dataset's raw files exist (downloaded first
    where the root takes downloads) and pass their loader's cheap checks, and a named split file
    exists. Files whose processed cache exists passed when it was built (the cache is keyed by
    their sizes and times, so a changed file is checked again); files are checked once per
    process. ``None`` for loaders without raw files."""
    split_file(cfg)
    if cfg.loader not in SOURCES:
        return None
    raw = SOURCES[cfg.loader](cfg, data_root, show)
    folder = cache_folder(raw.path, raw.entries, cache_dir / "datasets" / raw.kind)
    if (key := (str(folder), raw.kind)) not in _checked and not folder.is_dir():
        raw.check()
    _checked.add(key)
    return raw


def load_tu(cfg: Any, data_root: Path, cache_dir: Path,
            show: bool = False) -> tuple[Collated, FeatureSpec, dict]:
    """Load a TU dataset with PyG's ``TUDataset`` (processed files go under ``cache_dir``) into
    one table: node labels one-hot -> index, degree features, or a constant column."""
    from torch_geometric.datasets import TUDataset

    name = cfg.name
    raw = checked_source(cfg, data_root, cache_dir, show)
    source = raw.path
    ds = open_cached(source, raw.entries, cache_dir / "datasets" / raw.kind,
                     lambda root: TUDataset(str(root), name=name, use_node_attr=True,
                                            use_edge_attr=True), raw.what, show=show)
    table, labels = tu_table(ds, cfg.use_node_attr)
    has_labels = labels is not None
    cont = table.x_cont.size(1) if table.x_cont is not None else 0
    keep = cfg.get("keep_node_labels")  # checked against the raw files by tu_source
    if cfg.degree_features or (not has_labels and cont == 0):
        # A categorical degree column; degrees above the cap share a bucket.
        deg = torch.bincount(table.edge_index[0], minlength=table.num_nodes)
        max_deg = cfg.max_degree or int(deg.max())
        x, node_cards = deg.clamp(max=max_deg).view(-1, 1), (max_deg + 1,)
    elif keep is not None:
        x, card = keep_node_labels(labels, list(keep), _raw_label_min(source, name))
        node_cards = (card,)
    elif has_labels:
        x, node_cards = labels, (ds.num_node_labels,)
    else:  # continuous attributes only: the placeholder constant column keeps ``x`` uniform
        x, node_cards = table.x, (1,)
    edge_cards = (ds.num_edge_labels,) if table.edge_attr is not None else ()
    return (replace(table, x=x), FeatureSpec(node_cards, cont, edge_cards),
            {"source": str(source)})


def _allow_pyg_pickles() -> None:
    """ogb 1.3.6 calls ``torch.load`` without ``weights_only``; torch >= 2.6 needs an allow-list."""
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    torch.serialization.add_safe_globals([DataEdgeAttr, DataTensorAttr, GlobalStorage])


def load_ogb(cfg: Any, data_root: Path, cache_dir: Path,
             show: bool = False) -> tuple[Collated, FeatureSpec, dict]:
    """Load an ``ogbg-*`` dataset with OGB's ``PygGraphPropPredDataset`` and its official split."""
    from ogb.graphproppred import PygGraphPropPredDataset
    from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims

    name = cfg.name
    raw = checked_source(cfg, data_root, cache_dir, show)
    source, what = raw.path, raw.what
    ds = open_cached(source, raw.entries, cache_dir / "datasets" / raw.kind,
                     lambda root: PygGraphPropPredDataset(name=name, root=str(root)), what,
                     show=show)
    with reading(source, what, show):
        idx = ds.get_idx_split()
    if ds.num_tasks != 1:
        raise ConfigError(f"dataset.name={name} has {ds.num_tasks} tasks; only single-task "
                          "graph classification is supported")
    graphs = Collated.from_storage(ds._data, ds.slices)  # no per-graph objects
    split = {"train": idx["train"].tolist(), "val": idx["valid"].tolist(),
             "test": idx["test"].tolist()}
    spec = FeatureSpec(tuple(get_atom_feature_dims()), 0, tuple(get_bond_feature_dims()))
    return graphs, spec, {"source": str(source), "split": split}


def load_synthetic(cfg: Any, data_root: Path, cache_dir: Path,
                   show: bool = False) -> tuple[Collated, FeatureSpec, dict]:
    """Seeded labelled graphs whose class is decided by structure (see :mod:`mirage.synthetic`),
    generated as one table."""
    from mirage.synthetic import make_collated

    graphs = make_collated(cfg.num_graphs, cfg.num_nodes, cfg.num_labels, cfg.seed)
    return graphs, FeatureSpec((cfg.num_labels,), 0, ()), {}


LOADERS = {"tu": load_tu, "ogb": load_ogb, "synthetic": load_synthetic}


def resolve_data_root(data_root: str | None) -> Path:
    """``data_root`` from config, else ``$MIRAGE_DATA_ROOT``, else ``./data``."""
    return Path(data_root or os.environ.get("MIRAGE_DATA_ROOT") or "data").expanduser()


def load_dataset(cfg: Any, data_root: Path, cache_dir: Path, show: bool = False) -> GraphDataset:
    """Load ``cfg`` (a ``conf/dataset`` node) and split it into train / val / test. ``show``
    lets the libraries' own progress output through (the harness's ``progress`` rule)."""
    if cfg.loader not in LOADERS:
        raise ConfigError(f"dataset.loader={cfg.loader!r} is not one of {sorted(LOADERS)}")
    graphs, spec, info = LOADERS[cfg.loader](cfg, Path(data_root), Path(cache_dir), show)
    if not graphs:
        raise DataError(f"dataset '{cfg.name}' is empty ({info.get('source', '')})")
    split = info.pop("split", None) or split_of(cfg, len(graphs))
    if isinstance(graphs, Collated):  # collated loaders stay collated, splits included
        labels, part = graphs.y, graphs.take
    else:
        labels, part = torch.cat([g.y for g in graphs]), lambda idx: [graphs[i] for i in idx]
    num_classes = int(labels.max()) + 1
    return GraphDataset(
        name=cfg.name,
        train=part(split["train"]),
        val=part(split["val"]),
        test=part(split["test"]),
        num_classes=num_classes,
        features=spec,
        split_hash=split_hash(split),
        info={**info, "split": split},
    )
