"""Synthetic TU-format datasets (experiments/make_tu.py) through the generic ``dataset=tu`` path."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from experiments.tools import make_tu
from mirage.pipeline import run


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small copies (120 graphs) of every synthetic dataset, written in the TU raw format."""
    root = tmp_path_factory.mktemp("syn")
    for name, spec in make_tu.SPECS.items():
        make_tu.write(name, root, replace(spec, graphs=120))
    return root


def test_generation_is_seeded() -> None:
    spec = replace(make_tu.SPECS["SYN-MOTIF3"], graphs=30)
    a, b = make_tu.make_dataset(spec), make_tu.make_dataset(spec)
    assert [(g.edges, g.labels, g.y) for g in a] == [(g.edges, g.labels, g.y) for g in b]
    assert {g.y for g in a} == {0, 1, 2}


def test_dense_set_has_no_node_labels_and_its_classes_differ_in_structure(
        small_root: Path) -> None:
    raw = small_root / "TU" / "SYN-DENSE3" / "raw"
    assert not (raw / "SYN-DENSE3_node_labels.txt").exists()
    graphs = make_tu.make_dataset(replace(make_tu.SPECS["SYN-DENSE3"], graphs=300))
    density = {y: np.mean([len(g.edges) / len(g.labels) ** 2 for g in graphs if g.y == y])
               for y in range(3)}
    assert density[0] > density[1] > density[2]


@pytest.mark.parametrize(("name", "extra"), [("SYN-MOTIF3", []),
                                             ("SYN-CONT", ["distiller.cont_bins=4"]),
                                             ("SYN-DENSE3", [])])
def test_generic_path_runs_end_to_end(run_cfg, small_root: Path, name: str,
                                      extra: list[str]) -> None:
    """Multi-class data, continuous attributes and unlabelled dense graphs (degree features)
    through dataset=tu, Mirage's generic defaults and a GNN: every row ok, with the
    one-vs-rest macro AUC."""
    rows = run(run_cfg("dataset=tu", f"dataset.name={name}", f"data_root={small_root}",
                       "distiller=mirage", "model=gcn", "train.epochs=3", "seeds=[0]", *extra))
    assert [r["status"] for r in rows] == ["ok"]
    assert 0.0 <= rows[0]["test_auc"] <= 1.0 and rows[0]["distilled_graphs"] > 0


@pytest.mark.parametrize("name", list(make_tu.SPECS))
def test_generic_rule_is_deterministic(small_root: Path, tmp_path: Path, name: str) -> None:
    """The generic path's distiller (composed from the real configs) gives the same set, byte
    for byte, from a fresh distiller with the same distill seed, and the same trees with
    another (only the real graphs in the bytes the trees leave are drawn); and stays at 20x or
    more."""
    from conftest import compose_cfg
    from omegaconf import OmegaConf

    from mirage.data import load_dataset
    from mirage.distill.base import build_distiller, nbytes

    cfg = compose_cfg(["dataset=tu", f"dataset.name={name}", "distiller=mirage"])
    node = OmegaConf.to_container(cfg.distiller, resolve=True)
    data = load_dataset(cfg.dataset, small_root, tmp_path)
    sets = [build_distiller(node).distill(data.train_split(), seed=s) for s in (0, 0, 7)]
    plain = [[{k: getattr(v, "tolist", lambda v=v: v)() for k, v in g.to_dict().items()}
              for g in s.samples] for s in sets]
    trees = [p[:len(p) - s.meta["budget"]["real_graphs"]] for p, s in zip(plain, sets, strict=True)]
    assert plain[0] == plain[1] and sets[0].nbytes() == sets[1].nbytes() > 0
    assert trees[0] == trees[2] and trees[0]
    assert nbytes(data.train) >= 20 * max(s.nbytes() for s in sets)
