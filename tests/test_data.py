"""Splits, features and loaders (real TU / OGB loaders on the offline copies)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_cfg, data_root

import mirage.data as data_module
from mirage.data import load_dataset
from mirage.errors import ConfigError, DataError
from mirage.sources import DOWNLOAD_MARKER, require_root


def test_mutag_features_and_split(shared_cache: Path) -> None:
    cfg = compose_cfg(["dataset=mutag"]).dataset
    ds = load_dataset(cfg, data_root(), shared_cache)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (150, 19, 19)
    assert ds.num_classes == 2 and ds.features.node_cardinalities == (7,)
    assert ds.features.edge_cardinalities == (4,)
    g = ds.train[0]
    assert g.x.dtype == torch.long and g.x.shape == (g.num_nodes, 1)
    assert int(g.x.max()) < 7 and g.edge_attr.shape == (g.edge_index.size(1), 1)
    # processed files go to the cache, never next to the read-only source
    assert list((shared_cache / "datasets" / "TU").glob("MUTAG-*/MUTAG/processed"))
    assert not (data_root() / "TU" / "MUTAG" / "processed").exists()


@pytest.mark.slow
def test_imdb_uses_degree(shared_cache: Path) -> None:
    ds = load_dataset(compose_cfg(["dataset=imdb_b"]).dataset, data_root(), shared_cache)
    g = ds.train[0]
    deg = torch.bincount(g.edge_index[0], minlength=g.num_nodes)
    assert torch.equal(g.x.view(-1), deg.clamp(max=ds.features.node_cardinalities[0] - 1))
    assert ds.num_classes == 2 and len(ds.test) == 100


@pytest.mark.slow
def test_ogb_official_split(shared_cache: Path) -> None:
    ds = load_dataset(compose_cfg(["dataset=ogbg_molbace"]).dataset, data_root(), shared_cache)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (1210, 151, 152)
    assert len(ds.features.node_cardinalities) == 9 and len(ds.features.edge_cardinalities) == 3
    g = ds.train[0]
    assert g.x.shape[1] == 9 and g.edge_attr.shape[1] == 3 and g.y.shape == (1,)


def _write_tu(folder: Path, name: str, graphs: list[list[tuple[int, int]]], labels: list[int],
              node_attr: bool, node_labels: list[int] | None = None) -> None:
    """A minimal TU-format dataset nobody has tuned for (no node labels)."""
    raw = folder / "TU" / name / "raw"
    raw.mkdir(parents=True)
    a, ind, attrs, offset = [], [], [], 0
    for gi, edges in enumerate(graphs, start=1):
        n = max(max(e) for e in edges) + 1
        ind += [gi] * n
        a += [f"{u + offset + 1}, {v + offset + 1}" for u, v in edges]
        a += [f"{v + offset + 1}, {u + offset + 1}" for u, v in edges]
        attrs += [f"{0.5 * i}, {1.0}" for i in range(n)]
        offset += n
    (raw / f"{name}_A.txt").write_text("\n".join(a) + "\n")
    (raw / f"{name}_graph_indicator.txt").write_text("\n".join(map(str, ind)) + "\n")
    (raw / f"{name}_graph_labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    if node_attr:
        (raw / f"{name}_node_attributes.txt").write_text("\n".join(attrs) + "\n")
    if node_labels is not None:
        (raw / f"{name}_node_labels.txt").write_text("\n".join(map(str, node_labels)) + "\n")


@pytest.mark.parametrize("node_attr", [False, True])
def test_unseen_tu_dataset(tmp_path: Path, node_attr: bool) -> None:
    graphs = [[(0, 1), (1, 2)], [(0, 1), (1, 2), (2, 0)], [(0, 1)], [(0, 1), (0, 2), (0, 3)]] * 5
    labels = [1, 2, 1, 2] * 5  # TU labels need not start at 0
    _write_tu(tmp_path / "src", "TOY", graphs, labels, node_attr)
    cfg = compose_cfg(["dataset=tu", "dataset.name=TOY"]).dataset
    ds = load_dataset(cfg, tmp_path / "src", tmp_path / "cache")
    assert ds.num_classes == 2 and len(ds.train) == 16
    g = ds.train[0]
    if node_attr:  # attributes used, constant categorical column keeps x uniform
        assert g.x_cont.shape == (g.num_nodes, 2) and ds.features.node_cont_dim == 2
        assert ds.features.node_cardinalities == (1,)
    else:  # neither labels nor attributes: degree features
        assert ds.features.node_cardinalities == (4,)  # degrees 0..3
        assert torch.equal(g.x.view(-1), torch.bincount(g.edge_index[0], minlength=g.num_nodes))


def test_missing_data_names_path(tmp_path: Path) -> None:
    cfg = compose_cfg(["dataset=tu", "dataset.name=NOPE"]).dataset
    with pytest.raises(DataError, match=str(tmp_path / "TU" / "NOPE")) as err:
        load_dataset(cfg, tmp_path, tmp_path / "cache")
    # A root the harness did not create is only read: no download, no folder left behind.
    assert "is only read" in str(err.value)
    assert sorted(tmp_path.iterdir()) == []


def test_a_failed_download_leaves_nothing_under_the_root(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    monkeypatch.chdir(tmp_path)
    require_root(Path("data"))  # the default root: created, and it takes downloads
    assert sorted(p.name for p in root.iterdir()) == [DOWNLOAD_MARKER]

    def half_download(staging: Path, name: str) -> Path:
        (staging / name / "raw").mkdir(parents=True)
        (staging / name / "raw" / f"{name}_A.txt").write_text("1, 2\n")
        raise OSError("connection reset (test)")

    monkeypatch.setattr(data_module, "_download_tu", half_download)
    cfg = compose_cfg(["dataset=tu", "dataset.name=NOPE"]).dataset
    with pytest.raises(DataError, match="downloading it failed"):
        load_dataset(cfg, Path("data"), tmp_path / "cache")
    assert sorted(p.name for p in root.iterdir()) == [DOWNLOAD_MARKER]
    # Another missing root is an error, and is not created.
    with pytest.raises(DataError, match="does not exist"):
        require_root(tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


def test_documentation_beside_the_raw_files_is_not_read(tmp_path: Path) -> None:
    """Official archives (Mutagenicity, AIDS, ...) ship ``<NAME>_label_readme.txt``: prose the
    raw-file checks must not take for a truncated table."""
    raw = _copy_tu(data_root(), tmp_path, "MUTAG")
    (raw / "MUTAG_label_readme.txt").write_text("Node labels:\n\n0  C\n1  N\n")
    ds = load_dataset(compose_cfg(["dataset=mutag"]).dataset, tmp_path, tmp_path / "cache")
    assert len(ds.train) == 150


def test_corrupt_data_names_path(tmp_path: Path) -> None:
    raw = tmp_path / "TU" / "BROKEN" / "raw"
    raw.mkdir(parents=True)
    (raw / "BROKEN_A.txt").write_text("1, x\n")
    (raw / "BROKEN_graph_indicator.txt").write_text("1\n1\n")
    (raw / "BROKEN_graph_labels.txt").write_text("0\n")
    cfg = compose_cfg(["dataset=tu", "dataset.name=BROKEN"]).dataset
    with pytest.raises(DataError, match="BROKEN"):
        load_dataset(cfg, tmp_path, tmp_path / "cache")


@pytest.mark.slow
def test_keep_node_labels_maps_raw_labels(tmp_path: Path) -> None:
    """DD's option (the original code keeps 16 residue labels): kept raw labels become 1..k in
    the order given, every other label 0. Raw labels here start at 3, so PyG's index is raw - 3."""
    graphs = [[(0, 1), (1, 2)], [(0, 1), (1, 2), (2, 0)]] * 5
    raw = [3, 5, 7, 4, 6, 9] * 5  # three nodes per graph
    _write_tu(tmp_path / "src", "LAB", graphs, [0, 1] * 5, node_attr=False, node_labels=raw)
    plain = load_dataset(compose_cfg(["dataset=tu", "dataset.name=LAB"]).dataset,
                         tmp_path / "src", tmp_path / "cache")
    kept = load_dataset(compose_cfg(["dataset=tu", "dataset.name=LAB",
                                     "dataset.keep_node_labels=[9,5]"]).dataset,
                        tmp_path / "src", tmp_path / "cache")
    assert plain.features.node_cardinalities == (7,) and kept.features.node_cardinalities == (3,)
    expected = {3: 0, 4: 0, 5: 2, 6: 0, 7: 0, 9: 1}
    for a, b in zip(plain.train, kept.train, strict=True):
        assert b.x.view(-1).tolist() == [expected[int(v) + 3] for v in a.x.view(-1)]
    with pytest.raises(ConfigError, match="keep_node_labels"):
        load_dataset(compose_cfg(["dataset=imdb_b", "dataset.keep_node_labels=[1]"]).dataset,
                     data_root(), tmp_path / "cache2")


def _copy_tu(src: Path, dst_root: Path, name: str) -> Path:
    raw = dst_root / "TU" / name / "raw"
    raw.mkdir(parents=True)
    for f in (src / "TU" / name / "raw").iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    return raw


def _labels(ds) -> list[int]:
    return [int(g.y) for g in [*ds.train, *ds.val, *ds.test]]


def test_cache_follows_its_raw_files(tmp_path: Path) -> None:
    """A warm cache never masks another data_root, a missing one, or a repaired file."""
    cfg = compose_cfg(["dataset=mutag"]).dataset
    cache = tmp_path / "cache"
    raw = _copy_tu(data_root(), tmp_path / "a", "MUTAG")
    first = load_dataset(cfg, tmp_path / "a", cache)
    # Another root with other graph labels: its own data, not the cached one.
    other = _copy_tu(data_root(), tmp_path / "b", "MUTAG")
    labels = (other / "MUTAG_graph_labels.txt").read_text().split()
    (other / "MUTAG_graph_labels.txt").write_text("\n".join(
        "1" if v == "-1" else "-1" for v in labels) + "\n")
    flipped = load_dataset(cfg, tmp_path / "b", cache)
    assert _labels(flipped) == [1 - v for v in _labels(first)]
    # A root that does not exist is an error naming it, warm cache or not.
    with pytest.raises(DataError, match=f"data_root={tmp_path / 'gone'} does not exist"):
        load_dataset(cfg, tmp_path / "gone", cache)
    # A truncated file: a one-line error naming it, and nothing half-built stays in the cache.
    original = (raw / "MUTAG_A.txt").read_bytes()
    (raw / "MUTAG_A.txt").write_bytes(original[: len(original) // 2])
    with pytest.raises(DataError, match=r"MUTAG_A\.txt") as err:
        load_dataset(cfg, tmp_path / "a", cache)
    assert "\n" not in str(err.value)
    assert not list((cache / "datasets" / "TU").glob(".*tmp"))
    # Repaired: loads again, equal to the first load.
    (raw / "MUTAG_A.txt").write_bytes(original)
    repaired = load_dataset(cfg, tmp_path / "a", cache)
    assert _labels(repaired) == _labels(first)
    assert [g.edge_index.tolist() for g in repaired.train] == [
        g.edge_index.tolist() for g in first.train]


def test_truncated_row_counts_name_the_file(tmp_path: Path) -> None:
    raw = _copy_tu(data_root(), tmp_path, "MUTAG")
    lines = (raw / "MUTAG_node_labels.txt").read_text().splitlines()
    (raw / "MUTAG_node_labels.txt").write_text("\n".join(lines[:-7]) + "\n")  # whole rows cut
    with pytest.raises(DataError, match=r"labels\.txt and MUTAG_graph_indicator\.txt disagree"):
        load_dataset(compose_cfg(["dataset=mutag"]).dataset, tmp_path, tmp_path / "cache")


def test_missing_ogb_dataset_never_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing data is a named error: no ``(y/N)`` question (an EOFError in a batch job)."""
    monkeypatch.setattr("sys.stdin", None)  # any read from stdin would raise

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network unreachable (test)")

    monkeypatch.setattr("urllib.request.urlopen", offline)  # the same offline or online
    (tmp_path / DOWNLOAD_MARKER).write_text("")  # a root that takes downloads: OGB would try
    cfg = compose_cfg(["dataset=ogbg_molbace"]).dataset
    with pytest.raises(DataError, match="ogbg_molbace") as err:
        load_dataset(cfg, tmp_path, tmp_path / "cache")
    assert "EOFError" not in str(err.value)
    # A dataset folder without OGB's release file (what made OGB ask) is named, not asked about.
    source = tmp_path / "OGB" / "ogbg_molbace"
    source.mkdir(parents=True)
    for entry in ("raw", "split", "mapping"):
        (source / entry).symlink_to(data_root() / "OGB" / "ogbg_molbace" / entry)
    with pytest.raises(DataError, match=r"lacks \['RELEASE_v1.txt'\]"):
        load_dataset(cfg, tmp_path, tmp_path / "cache")
