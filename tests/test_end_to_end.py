"""Whole runs through the pipeline on real MUTAG and on synthetic graphs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PLUGIN_ARGS

from experiments.cli import distilled_set
from mirage.errors import ConfigError, DataError, MeasurementError
from mirage.pipeline import run
from mirage.records import read_rows


@pytest.mark.slow
def test_full_gin_on_mutag_learns(run_cfg) -> None:
    cfg = run_cfg("dataset=mutag", "distiller=full", "model=gin", "train.epochs=30",
                  "seeds=[0,1]")
    rows = run(cfg)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    # 19 test graphs, 13 of class 1: the majority class scores 13/19; a trained GIN beats it.
    assert sum(r["test_acc"] for r in rows) / 2 > 13 / 19, rows
    # One seed's AUC on 19 test graphs moves with the platform's rounding: seed 1 gives 0.76 on
    # an AMD host (validation 0.96), above 0.8 on the hosts before it. A GIN that learnt nothing
    # sits near 0.5.
    assert sum(r["test_auc"] for r in rows) / 2 > 0.8 and all(r["test_auc"] > 0.7 for r in rows)
    assert rows[0]["compression_ratio"] == pytest.approx(1.0)
    csv = read_rows(Path(cfg.results_dir) / "runs.csv")
    assert [float(r["test_auc"]) for r in csv] == [r["test_auc"] for r in rows]
    assert {r["split_hash"] for r in csv} == {"c1c3694244b3"}  # MUTAG's committed split


def test_random_then_cache_hit(run_cfg, tmp_path: Path) -> None:
    cache = f"cache_dir={tmp_path / 'own_cache'}"
    first = run(run_cfg("distiller=random", "distiller.gpc=5", "train.epochs=2", "seeds=[0]",
                        cache))
    assert first[0]["cache_hit"] is False and first[0]["distilled_graphs"] == 10
    assert first[0]["compression_ratio"] > 5
    second = run(run_cfg("distiller=random", "distiller.gpc=5", "model=gcn", "train.epochs=2",
                         "seeds=[0]", cache))
    assert second[0]["cache_hit"] is True
    assert second[0]["distill_time_s"] == first[0]["distill_time_s"]
    changed = run(run_cfg("distiller=random", "distiller.gpc=6", "train.epochs=2", "seeds=[0]",
                          cache))
    assert changed[0]["cache_hit"] is False and changed[0]["distilled_graphs"] == 12


@pytest.mark.slow
def test_synthetic_structure_is_learnable(run_cfg) -> None:
    rows = run(run_cfg("dataset=synthetic", "distiller=full", "model=gin", "train.epochs=40",
                       "seeds=[0]"))
    assert rows[0]["test_auc"] > 0.75, rows


def test_a_failure_while_measuring_is_a_row_and_bad_input_is_not(run_cfg) -> None:
    cfg = run_cfg(*PLUGIN_ARGS, "distiller=exploding", "seeds=[0,1]")
    with pytest.raises(MeasurementError, match="exploded while distilling") as err:
        run(cfg)
    assert isinstance(err.value.__cause__, RuntimeError)
    rows = read_rows(Path(cfg.results_dir) / "runs.csv")
    assert [(r["seed"], r["status"]) for r in rows] == [("0", "failed"), ("1", "failed")]
    assert "exploded while distilling" in rows[0]["error"]
    missing = run_cfg("dataset=tu", "dataset.name=NOT_THERE", "seeds=[0]")
    with pytest.raises(DataError, match="NOT_THERE"):
        run(missing)
    assert len(read_rows(Path(cfg.results_dir) / "runs.csv")) == 2  # no row for bad input


def test_per_seed_draws_train_each_seed_on_its_own_set(run_cfg) -> None:
    """distill_seed=per_seed: seed s trains on the set of distill seed s, and its row says so.
    Rows of one fixed draw count for the seed whose draw it is (seed 0) and no other; a rerun
    finds every seed done."""
    args = ("distiller=random", "distiller.gpc=3", "model=gcn", "train.epochs=2", "seeds=[0,1,2]")
    fixed = run(run_cfg(*args))
    assert [r["distill_seed"] for r in fixed] == [0, 0, 0]
    drawn = run(run_cfg(*args, "distill_seed=per_seed"))
    assert [(r["seed"], r["distill_seed"]) for r in drawn] == [(1, 1), (2, 2)]
    assert len({r["distilled_bytes"] for r in fixed[:1] + drawn}) == 3  # three draws
    assert run(run_cfg(*args, "distill_seed=per_seed")) == []
    with pytest.raises(ConfigError, match="distill_seed must be an integer >= 0 or per_seed"):
        run(run_cfg(*args, "distill_seed=each"))
    with pytest.raises(ConfigError, match="this tool reads one set"):
        distilled_set(run_cfg(*args, "distill_seed=per_seed"))


def test_a_draw_that_fails_leaves_the_others_measured(run_cfg) -> None:
    cfg = run_cfg(*PLUGIN_ARGS, "distiller=exploding", "distiller.draws=[1]", "model=gcn",
                  "train.epochs=2", "seeds=[0,1,2]", "distill_seed=per_seed")
    with pytest.raises(MeasurementError, match="exploded while distilling"):
        run(cfg)
    rows = read_rows(Path(cfg.results_dir) / "runs.csv")
    assert [(r["seed"], r["distill_seed"], r["status"]) for r in rows] == [
        ("0", "0", "ok"), ("1", "1", "failed"), ("2", "2", "ok")]


def test_mirage_distils_once_for_every_model(run_cfg, tmp_path: Path) -> None:
    cache = f"cache_dir={tmp_path / 'own_cache'}"
    rows = [run(run_cfg("distiller=mirage", f"model={m}", "train.epochs=10", "seeds=[0]",
                        cache))[0]
            for m in ("gcn", "gin", "gat")]
    assert [r["cache_hit"] for r in rows] == [False, True, True]
    assert len({r["distill_time_s"] for r in rows}) == 1
    assert all(r["status"] == "ok" and r["compression_ratio"] > 10 for r in rows)
    # Trained on a handful of trees pooled at their roots, every model still ranks the real test
    # graphs far better than chance (AUC 0.5; all three reach about 0.95 here).
    assert all(r["test_auc"] > 0.85 for r in rows), rows
