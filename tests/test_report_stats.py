"""The statistics every table carries (95 % intervals, Welch's test, ties, equal-size pairs), an
arm's look read from its config, and random drawn to another arm's bytes."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import compose_cfg

from mirage.errors import ConfigError
from mirage.records import Row, append_rows, flatten, row_dict
from mirage.report import paper
from mirage.report.arms import PALETTE, look
from mirage.report.stats import ci_halfwidth, welch
from mirage.study import match_budget
from mirage.validation import validate

# Welch's worked example (Wikipedia, "Welch's t-test", example 1): t = -2.46, df = 24.99,
# two-sided p = 0.021.
A = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
B = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def test_interval_of_a_mean_is_students_t_with_n_minus_1() -> None:
    # 1..5: mean 3, s = 1.5811 (ddof 1), t(0.975, 4) = 2.7764 (tables) -> 2.7764 * s / sqrt 5
    assert ci_halfwidth([1, 2, 3, 4, 5], scale=1) == pytest.approx(1.9632, abs=1e-4)
    assert ci_halfwidth([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(19.632, abs=1e-3)  # points
    assert math.isnan(ci_halfwidth([1, 2]))  # below 3 seeds: no interval


def test_welch_gives_the_textbook_difference_interval_and_p() -> None:
    diff, lo, hi, p = welch(A, B, scale=1)
    assert diff == pytest.approx(-2.1667, abs=1e-4)
    assert p == pytest.approx(0.021, abs=5e-4)
    # se = |diff| / |t| = 0.8824, t(0.975, 24.99) = 2.0597 -> half-width 1.8175
    assert (lo, hi) == (pytest.approx(-3.984, abs=2e-3), pytest.approx(-0.349, abs=2e-3))
    assert all(math.isnan(v) for v in welch([1, 2], B))


def _rows(arm: str, aucs: list[float], distiller: str | None = None) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "D", "arm": arm, "distiller": distiller or arm,
                         "model": "gcn", "status": "ok", "seed": range(len(aucs)),
                         "val_auc": aucs, "test_auc": aucs, "test_acc_cal": aucs,
                         "distilled_bytes": 100.0, "compression_ratio": 10.0,
                         "distill_time_s": 1.0, "train_time_s": 1.0, "error": ""})


def test_a_tie_is_marked_and_a_clear_gap_is_not() -> None:
    df = pd.concat([_rows("best", [0.80, 0.82, 0.84]), _rows("close", [0.78, 0.82, 0.83]),
                    _rows("far", [0.60, 0.61, 0.62]), _rows("whole", [0.99, 0.99, 0.99])])
    cells = paper.cell_stats(df, paper.Roles({}, full="whole")).set_index("arm")
    assert cells["auc_best"].to_dict() == {"best": True, "close": False, "far": False,
                                           "whole": False}  # the full split is no contender
    assert cells.loc["close", "auc_tie"] and not cells.loc["far", "auc_tie"]
    text = paper.interval_text(cells.loc["close"], "auc")
    assert text.endswith("≈") and "±" in text
    assert "≈" not in paper.interval_text(cells.loc["far"], "auc")


def test_each_arm_is_paired_with_its_counterpart(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("study:\n  arm: mine\n  versus: base\n")
    looks = {"mine": look("mine", "mine", tmp_path), "base": look("base", "base", tmp_path)}
    df = pd.concat([_rows("mine", [0.80, 0.82, 0.84]), _rows("base", [0.70, 0.72, 0.74])])
    cells = paper.cell_stats(df, paper.Roles(looks)).set_index("arm")
    assert cells.loc["mine", "auc_diff"] == pytest.approx(10.0)
    assert cells.loc["mine", "auc_diff_lo"] < 10 < cells.loc["mine", "auc_diff_hi"]
    assert math.isnan(cells.loc["base", "auc_diff"])  # no counterpart named
    text = paper.pairs_text(cells.reset_index(), (["mine", "base"], ["D"], ["gcn"]),
                            paper.Roles(looks))
    assert "| D | mine | base | +10.0 [" in text


def test_an_arm_without_config_gets_its_name_and_a_fixed_colour(tmp_path: Path) -> None:
    new = look("scratch_1", "scratch", tmp_path)
    assert new.label == "scratch_1" and new.color in PALETTE and new.versus is None
    assert look("scratch_10", "scratch", tmp_path).color == new.color  # one per distiller
    assert look("random_at_mirage", "random").versus == "mirage"  # from its match_bytes


def test_random_takes_the_bytes_of_the_arm_it_is_matched_to(tmp_path: Path) -> None:
    cfg = compose_cfg(["arm=random_at_mirage", "dataset=synthetic", "model=gcn",
                       f"results_dir={tmp_path}"])
    plain = validate(cfg)
    with pytest.raises(ConfigError, match="no ok row of arm mirage"):
        match_budget(cfg, plain)
    hp = {**flatten(plain["dataset"], "dataset"), "arm": "mirage"}
    # rows older than the distill_seed and dataset.loader columns (empty there) still count
    append_rows(tmp_path / "runs.csv", [
        {**row_dict(Row(plain["dataset"]["name"], "mirage", "gcn", seed=s, distill_seed=0,
                        status="ok", distilled_bytes=777), hp), "distill_seed": "",
         "dataset.loader": ""}
        for s in range(3)]
        + [row_dict(Row(plain["dataset"]["name"], "mirage", "gin", seed=0, distill_seed=0,
                        status="ok", distilled_bytes=999), hp)]
        # an older row of another dataset, blank in the dataset columns, never counts
        + [{**row_dict(Row("OTHER", "mirage", "gcn", seed=s, distill_seed=0, status="ok",
                           distilled_bytes=5), hp), "dataset.name": ""} for s in range(5)])
    match_budget(cfg, plain)
    assert plain["distiller"]["budget_bytes"] == 777


def test_cost_counts_each_distillation_once_and_scales_runs_to_the_seeds() -> None:
    """Two cells of one set (a cache hit for the second model): the set's 100 s count once;
    per seed the cells take median 10 s and 30 s (train + eval), so 3 measured seeds each cost
    120 s beside the distillation, and at 10 seeds (tuned arm: 4) 10 * 10 + 4 * 30."""
    from mirage.report.tables import cost

    rows = [{"dataset": "D", "arm": arm, "model": model, "status": "ok", "config_hash": h,
             "cache_hit": hit, "distill_time_s": 100.0, "train_time_s": t, "eval_time_s": 2.0}
            for arm, model, h, hit, times in (("a", "gcn", "x", "False", (7.0, 8.0, 9.0)),
                                             ("tuned", "gin", "y", "True", (27.0, 28.0, 29.0)))
            for t in times]
    rows.append({**rows[0], "status": "failed", "train_time_s": 1e6})
    table = cost(pd.DataFrame(rows), 10, {"tuned": 4}).set_index("dataset")
    assert list(table.index) == ["D", "all"] and table.loc["D", "cells"] == 2
    assert table.loc["D", "process-hours measured"] == round((100 + 30 + 90) / 3600, 2)
    assert table.loc["all", "process-hours at 10 seeds"] == round((100 + 100 + 120) / 3600, 2)
