"""TU splits follow the original DosCond / Mirage rule, and every run records the split it used.

The rule, written out here independently of :mod:`mirage.data`: ``torch.manual_seed(0)``,
``perm = torch.randperm(N)``, ``n = ceil(N / 10)``; test = ``perm[:n]``, val = ``perm[n:2n]``,
train = ``perm[2n:]``, each in ``perm`` order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, compose_cfg, data_root
from test_data import _write_tu

from mirage.data import SPLITS_DIR, load_dataset, randperm_split, split_hash
from mirage.pipeline import run
from mirage.records import read_rows

NAMED_TU = {"mutag": "MUTAG", "nci1": "NCI1", "dd": "DD", "imdb_b": "IMDB-BINARY"}
REFERENCE = data_root().parent / "reference" / "mirage-official" / "nci1.json"


def original_rule(n: int) -> dict[str, list[int]]:
    torch.manual_seed(0)
    perm = torch.randperm(n).tolist()
    k = -(-n // 10)
    return {"test": perm[:k], "val": perm[k:2 * k], "train": perm[2 * k:]}


@pytest.mark.parametrize("n", [10, 188, 1000, 1001, 1178, 4110])
def test_rule_is_the_original(n: int) -> None:
    assert randperm_split(n, seed=0, test_frac=0.1, val_frac=0.1) == original_rule(n)


@pytest.mark.parametrize("config", sorted(NAMED_TU))
def test_named_tu_datasets_use_their_committed_split(config: str) -> None:
    cfg = compose_cfg([f"dataset={config}"]).dataset
    path = SPLITS_DIR / cfg.split.file
    blob = json.loads(path.read_text())
    assert blob["dataset"] == NAMED_TU[config] == cfg.name
    assert {p: blob[p] for p in ("train", "val", "test")} == original_rule(blob["num_graphs"])


@pytest.mark.slow
def test_nci1_training_indices_equal_the_reference(shared_cache: Path) -> None:
    """The official script's 3288 NCI1 training graphs, in its order, on the real loader."""
    if not REFERENCE.exists():
        pytest.skip(f"no reference outputs at {REFERENCE}")
    reference = json.loads(REFERENCE.read_text())["split"]["train_indices"]
    data = load_dataset(compose_cfg(["dataset=nci1"]).dataset, data_root(), shared_cache)
    assert data.info["split"]["train"] == reference
    # The graphs themselves: node counts from the raw graph indicator, in the reference order.
    raw = data_root() / "TU" / "NCI1" / "raw" / "NCI1_graph_indicator.txt"
    sizes = torch.bincount(torch.tensor([int(v) - 1 for v in raw.read_text().split()]))
    assert [g.num_nodes for g in data.train] == sizes[reference].tolist()


def test_generic_tu_applies_the_rule_at_run_time(tmp_path: Path) -> None:
    n = 23
    _write_tu(tmp_path, "TOY", [[(0, 1)]] * n, [i % 2 for i in range(n)], node_attr=False)
    data = load_dataset(compose_cfg(["dataset=tu", "dataset.name=TOY"]).dataset, tmp_path,
                        tmp_path / "cache")
    assert data.info["split"] == original_rule(n)
    assert (len(data.train), len(data.val), len(data.test)) == (17, 3, 3)


def test_every_run_writes_the_split_it_used(run_cfg) -> None:
    cfg = run_cfg("dataset=mutag", "distiller=random", "distiller.gpc=2", "train.epochs=1",
                  "seeds=[0]")
    row = run(cfg)[0]
    path = Path(cfg.results_dir) / "splits" / f"MUTAG-{row['split_hash']}.json"
    written = json.loads(path.read_text())
    assert written == original_rule(188)
    assert split_hash(written) == row["split_hash"] == read_rows(
        Path(cfg.results_dir) / "runs.csv")[0]["split_hash"]


def test_split_files_ship_with_the_package() -> None:
    assert SPLITS_DIR.parent == ROOT / "mirage"
    assert sorted(p.name for p in SPLITS_DIR.glob("*.json")) == sorted(
        f"{name}.json" for name in NAMED_TU.values())
