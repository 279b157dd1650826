"""The paper in one command: the smoke variants of paper_main and the ablations run end to end
and resume to nothing; Mirage's matched arms read the right baseline's bytes; reused rows are
only those of the same configuration; the tables select the paper's top 5 on validation."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import CONF, ROOT, compose_cfg
from omegaconf import OmegaConf
from test_sweeps import _env

from mirage.errors import ConfigError
from mirage.job import Job
from mirage.pipeline import run
from mirage.records import Row, append_rows, csv_text, flatten, read_rows, row_dict
from mirage.report import paper, spec
from mirage.report.arms import look
from mirage.study import job_seeds, match_budget, pending_seeds, skipped_by
from mirage.validation import validate

# The grid's arms: every arm config but kcenter_1, which is herding_1's set by construction (both
# first take the graph nearest the class's embedding mean).
ARMS = sorted(p.stem for p in (CONF / "arm").glob("*.yaml") if p.stem != "kcenter_1")


def _study(tmp: Path, experiment: str) -> subprocess.CompletedProcess:
    name = experiment.removesuffix("_smoke")
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"experiment={experiment}",
           f"results_dir={tmp}/results/{name}", f"cache_dir={tmp}/cache",
           f"hydra.sweep.dir={tmp}/multi/{name}", "progress=false"]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=500, cwd=tmp)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three smoke studies, each run twice; returns the folder (results/, cache/, logs)."""
    tmp = tmp_path_factory.mktemp("paper")
    for experiment in ("paper_main_smoke", "ablation_hops_smoke", "ablation_threshold_smoke"):
        for attempt in ("first", "second"):
            before = _snapshot(tmp)
            proc = _study(tmp, experiment)
            assert proc.returncode == 0, proc.stderr[-3000:]
            (tmp / f"{experiment}.{attempt}.log").write_text(proc.stdout + proc.stderr)
            if attempt == "second":
                assert _snapshot(tmp) == before, f"the second {experiment} did work"
    return tmp


def _snapshot(tmp: Path) -> dict[str, bytes]:
    """Every results CSV and cached artifact, by path: what a run that does work changes."""
    files = [*tmp.glob("results/*/runs.csv"), *tmp.glob("cache/distilled/*")]
    return {str(p): p.read_bytes() for p in files}


@pytest.mark.slow
def test_paper_main_smoke_measures_every_arm_and_model(smoke: Path) -> None:
    rows = read_rows(smoke / "results" / "paper_main" / "runs.csv")
    assert all(r["status"] == "ok" for r in rows)
    assert Counter((r["arm"], r["model"]) for r in rows) == {  # arm_seeds: mirage gets two
        (arm, model): 1 + (arm == "mirage") for arm in ARMS for model in ("gcn", "gin", "gat")}
    log = (smoke / "paper_main_smoke.second.log").read_text()
    assert log.count("nothing to do") == len(ARMS) * 3


@pytest.mark.slow
def test_matched_arms_take_their_baselines_bytes(smoke: Path) -> None:
    rows = read_rows(smoke / "results" / "paper_main" / "runs.csv")
    size = {(r["distiller"], r["distiller.gpc"], r["model"]): int(r["distilled_bytes"])
            for r in rows if r["distiller"] != "mirage" and not r["distiller.budget_bytes"]}
    matched = [r for r in rows if r["arm"].startswith("mirage_at_")]
    assert len(matched) == 8 * 3
    for r in matched:
        _, _, baseline, gpc = r["arm"].split("_")
        budget = size[(baseline, gpc, r["model"])]
        assert int(r["distiller.budget_bytes"]) == budget, r["arm"]
        assert int(r["distilled_bytes"]) <= budget, r["arm"]
    # ... and random takes tuned Mirage's bytes (at least them: whole graphs)
    mirage = {r["model"]: int(r["distilled_bytes"]) for r in rows if r["arm"] == "mirage"}
    drawn = [r for r in rows if r["arm"] == "random_at_mirage"]
    assert len(drawn) == 3
    for r in drawn:
        assert int(r["distiller.budget_bytes"]) == mirage[r["model"]]
        assert int(r["distilled_bytes"]) >= mirage[r["model"]]


@pytest.mark.slow
def test_ablation_smokes_sweep_their_setting(smoke: Path) -> None:
    hops = read_rows(smoke / "results" / "ablation_hops" / "runs.csv")
    assert sorted({r["distiller.hops"] for r in hops}) == ["1", "2", "3", "4"]
    assert all(r["model.num_layers"] == r["distiller.hops"] for r in hops)
    thr = read_rows(smoke / "results" / "ablation_threshold" / "runs.csv")
    assert sorted({r["distiller.threshold"] for r in thr}) == ["0.1", "0.15", "0.2", "0.3"]


@pytest.mark.slow
def test_paper_command_writes_every_table_and_plot(smoke: Path, tmp_path: Path) -> None:
    written = [path for study in ("paper_main", "ablation_hops", "ablation_threshold")
               for path in spec.build(study, tmp_path, results=smoke / "results")]
    names = {p.name for p in written}
    assert {"main.md", "main.tex", "acc_cal.md", "acc_cal.tex", "cells.csv", "auc_vs_bytes.png",
            "distill_time.png", "ablation_hops.md", "ablation_hops.tex", "ablation_hops.png",
            "ablation_threshold.md", "ablation_threshold.png"} <= names
    main = (tmp_path / "main.md").read_text()
    assert all(f"| {look(arm, '').label} |" in main for arm in ARMS)  # labels from the configs
    assert "pairs.md" in names
    assert main.count("**") == 2 * 3  # one best distilled set per GNN
    assert "\\begin{tabular}" in (tmp_path / "main.tex").read_text()
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names if n.endswith(".png"))


@pytest.mark.slow
def test_every_arm_composes_with_its_distiller() -> None:
    for arm in ARMS:
        cfg = compose_cfg([f"arm={arm}", "dataset=nci1", "model=gcn"])
        validate(cfg)
        assert cfg.study.arm == arm
        assert cfg.study.label and cfg.study.color
        assert (cfg.study.match_bytes is not None) == ("_at_" in arm)


def test_the_full_study_is_the_study_without_the_machine_profile() -> None:
    here = compose_cfg(["experiment=paper_main"])
    full = compose_cfg(["experiment=paper_main", "profile=none"])
    assert list(full.seeds) == list(range(10)) and not full.study.skip
    assert list(here.seeds) == [0, 1, 2] and not here.study.skip  # every cell runs here
    assert full.results_dir == here.results_dir  # resumes what this machine measured
    assert here.study.arm_seeds == full.study.arm_seeds  # tuned Mirage at 10 either way


def _baseline_row(plain: dict, model: str, gpc: int, nbytes: int, status: str = "ok") -> dict:
    hp = {**flatten(plain["dataset"], "dataset"), "distiller.gpc": gpc}
    return row_dict(Row(plain["dataset"]["name"], "herding", model, seed=0, distill_seed=0,
                        status=status, distilled_bytes=nbytes), hp)


def test_match_budget_reads_this_dataset_model_and_budget(tmp_path: Path) -> None:
    """Mirage at herding's bytes takes herding's set of the same dataset settings, GNN, gpc and
    distill seed: dropping any of these filters changes the budget."""
    cfg = compose_cfg(["arm=mirage_at_herding_1", "dataset=synthetic", "model=gin",
                       f"results_dir={tmp_path}"])
    plain = validate(cfg)
    with pytest.raises(ConfigError, match="run that arm first"):
        match_budget(cfg, plain)
    other = {**plain, "dataset": {**plain["dataset"], "num_graphs": 99}}
    append_rows(tmp_path / "runs.csv", [
        _baseline_row(plain, "gin", 1, 1111), _baseline_row(plain, "gcn", 1, 2222),
        _baseline_row(plain, "gin", 10, 3333), _baseline_row(other, "gin", 1, 4444),
        _baseline_row(plain, "gin", 1, 5555, status="failed"),
        {**_baseline_row(plain, "gin", 1, 6666), "distiller.budget_bytes": 6666}])
    match_budget(cfg, plain)
    assert plain["distiller"]["budget_bytes"] == 1111  # not the set drawn to a budget either
    # Two matched arms of equal bytes stay two configurations.
    twin = compose_cfg(["arm=mirage_at_random_1", "dataset=synthetic", "model=gin"])
    twin_plain = validate(twin)
    twin_plain["distiller"]["budget_bytes"] = 1111
    assert Job.of(twin, twin_plain).base["config_hash"] != Job.of(cfg, plain).base["config_hash"]


def test_reuse_adopts_only_ok_rows_of_the_same_configuration(tmp_path: Path) -> None:
    source = tmp_path / "other" / "runs.csv"
    cfg = compose_cfg(["arm=random_sum_1", "dataset=synthetic", "model=gcn", "seeds=[0,1,2,3]",
                       f"results_dir={tmp_path / 'study'}", f"study.reuse=[{source}]"])
    job = Job.of(cfg, validate(cfg))
    longer = compose_cfg(["arm=random_sum_1", "dataset=synthetic", "model=gcn",
                          "train.epochs=7"])
    other = Job.of(longer, validate(longer))
    append_rows(source, [job.row(seed=0, status="ok", test_auc=0.7),
                         job.row(seed=1, status="failed", error="boom"),
                         other.row(seed=2, status="ok", test_auc=0.9)])
    assert pending_seeds(cfg, job, job_seeds(cfg)) == [1, 2, 3]
    copied = read_rows(job.csv_path)
    assert [(r["seed"], r["test_auc"], r["arm"]) for r in copied] == [("0", "0.7", "random_sum_1")]
    assert pending_seeds(cfg, job, job_seeds(cfg)) == [1, 2, 3]  # idempotent: nothing copied twice
    assert len(read_rows(job.csv_path)) == 1


def test_skip_leaves_a_cell_out_without_a_row(tmp_path: Path) -> None:
    cfg = compose_cfg(["arm=doscond_10", "dataset=dd", "model=gat", f"results_dir={tmp_path}",
                       "study.skip=[NCI1/*/*,DD/doscond_*/gat]"])
    assert skipped_by(cfg) == "DD/doscond_*/gat"
    assert run(cfg) == [] and not (tmp_path / "runs.csv").exists()
    assert skipped_by(compose_cfg(["arm=doscond_10", "dataset=dd", "model=gcn",
                                   "study.skip=[DD/doscond_*/gat]"])) is None


def _rows(arm: str, val: list[float], test: list[float], seconds: float) -> pd.DataFrame:
    return pd.DataFrame({"dataset": "D", "arm": arm, "distiller": arm.split("_")[0],
                         "model": "gcn", "status": "ok", "seed": range(len(val)),
                         "val_auc": val, "test_auc": test, "test_acc_cal": 0.5,
                         "distilled_bytes": 100.0, "compression_ratio": 10.0,
                         "distill_time_s": seconds, "train_time_s": 2.0, "error": ""})


def test_paper_view_selects_on_validation_and_bold_skips_full() -> None:
    val = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
    test = [0.50, 0.52, 0.54, 0.56, 0.58, 0.90, 0.92, 0.94, 0.96, 0.98]
    df = pd.concat([_rows("mirage", val, test, 0.5), _rows("doscond_1", val[:3], [0.6] * 3, 50.0),
                    _rows("full", val[:3], [0.99] * 3, 0.0)])
    cells = paper.cell_stats(df, paper.Roles({}, full="full", reference="mirage"))
    cells = cells.set_index("arm")
    assert cells.loc["mirage", "top5_mean"] == pytest.approx(54.0)  # seeds 0-4, not 5-9
    assert math.isnan(cells.loc["doscond_1", "top5_mean"])  # fewer than 10 seeds
    assert cells.loc["doscond_1", "time_vs_reference"] == pytest.approx(100.0)
    assert math.isnan(cells.loc["mirage", "time_vs_reference"])
    assert cells.loc["doscond_1", "cost_s"] == pytest.approx(52.0)  # distill + train
    assert list(cells.index[cells["auc_best"]]) == ["mirage"]  # full is no contender


def test_study_configs_list_baselines_before_the_arms_matched_to_them() -> None:
    arms = str(OmegaConf.load(CONF / "experiment" / "paper_main.yaml")
               .hydra.sweeper.params.arm).split(",")
    assert sorted(arms) == ARMS
    for i, arm in enumerate(arms):
        match = OmegaConf.select(OmegaConf.load(CONF / "arm" / f"{arm}.yaml"),
                                 "study.match_bytes")
        if match and ":" in match:
            name, gpc = match.split(":")
            assert any(a.startswith(name) and a.endswith(f"_{gpc}") for a in arms[:i]), arm
        elif match:
            assert match in arms[:i], arm


def test_csv_text_matches_what_the_sink_writes(tmp_path: Path) -> None:
    values = {"distiller.a": None, "distiller.b": 1, "distiller.c": 0.1, "distiller.d": True,
              "distiller.e": "[1, 2]"}
    append_rows(tmp_path / "r.csv", [row_dict(Row("d", "x", "m"), values)])
    row = read_rows(tmp_path / "r.csv")[0]
    assert {k: row[k] for k in values} == {k: csv_text(v) for k, v in values.items()}


def test_an_infeasible_budget_is_recorded_once_not_retried(tmp_path: Path) -> None:
    """An int budget below Mirage's smallest set is an outcome of the settings: one
    ``infeasible`` row per seed, and a rerun does not try again (it would, were it ``failed``)."""
    cfg = compose_cfg(["distiller=mirage", "dataset=synthetic", "model=gcn", "seeds=[0,1]",
                       "distiller.budget_bytes=10", "distiller.rank=support",
                       "distiller.contrast_z=null",
                       f"results_dir={tmp_path}",
                       f"cache_dir={tmp_path / 'cache'}", "progress=false"])
    assert run(cfg) == []
    rows = read_rows(tmp_path / "runs.csv")
    assert [(r["seed"], r["status"]) for r in rows] == [("0", "infeasible"), ("1", "infeasible")]
    assert "cannot hold one support level" in rows[0]["error"]
    run(cfg)
    assert len(read_rows(tmp_path / "runs.csv")) == 2


def test_set_sizes_count_the_nodes_a_readout_pools() -> None:
    import torch
    from torch_geometric.data import Data

    from experiments.analysis.set_sizes import class_sizes

    def graph(nodes: int, y: int, pooled: int | None = None) -> Data:
        g = Data(x=torch.zeros(nodes, 1), y=torch.tensor([y]), num_nodes=nodes)
        if pooled is not None:
            g.pool_mask = torch.arange(nodes) < pooled
        return g

    samples = [graph(5, 0, pooled=1), graph(9, 1, pooled=3), graph(7, 1, pooled=1),
               graph(6, 1, pooled=6), graph(2, 1)]
    real = [graph(300, 0), graph(100, 1), graph(200, 1)]
    assert class_sizes(samples, real) == [
        {"class": 0, "samples": 1, "nodes": 5.0, "pooled": 1.0, "whole": [],
         "real_nodes": 300.0},
        {"class": 1, "samples": 4, "nodes": 6.0, "pooled": 3.0, "whole": [2, 6],
         "real_nodes": 150.0}]
