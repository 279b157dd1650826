"""The committed studies stay resumable: the configuration every committed row was measured
under composes, today, to the same config hash, so a fresh clone's sweep finds the rows and does
no work (and rows copied by `study.reuse` are found again)."""

from __future__ import annotations

import subprocess
from collections import defaultdict

import pytest
from conftest import ROOT, compose_cfg
from omegaconf import OmegaConf

from mirage.job import Job
from mirage.records import current_rows
from mirage.study import match_budget
from mirage.validation import validate

RESULTS = ROOT / "results"


def _cells(study: str) -> dict[tuple[str, ...], set[str]]:
    """(arm, dataset config name, model, swept setting) of the study's rows -> their hashes."""
    files = [OmegaConf.load(p) for p in sorted((ROOT / "conf" / "dataset").glob("*.yaml"))]
    names = {f.name: p.stem for f, p in zip(files, sorted((ROOT / "conf" / "dataset")
                                                           .glob("*.yaml")), strict=True)
             if not OmegaConf.is_missing(f, "name") and "name" in f}
    cells: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for row in current_rows(RESULTS / study / "runs.csv"):
        if row["status"] == "failed":  # retried by the next run, with whatever it composes then
            continue
        key = (row["arm"], names[row["dataset"]], row["model"], row.get("distiller.hops", ""),
               row.get("distiller.threshold", ""))
        cells[key].add(row["config_hash"])
    return cells


@pytest.mark.slow
@pytest.mark.parametrize("study,swept", [("paper_main", None), ("ablation_hops", "hops"),
                                          ("ablation_threshold", "threshold")])
def test_every_committed_cell_composes_to_its_rows_hash(study: str, swept: str | None) -> None:
    results_dir = RESULTS / study
    checked = 0
    for (arm, dataset, model, hops, threshold), hashes in _cells(study).items():
        overrides = [f"experiment={study}", f"dataset={dataset}", f"model={model}",
                     f"results_dir={results_dir}"]
        if study == "paper_main":
            overrides.append(f"arm={arm}")
        if swept:
            overrides.append(f"distiller.{swept}={hops if swept == 'hops' else threshold}")
        cfg = compose_cfg(overrides)
        plain = validate(cfg)
        match_budget(cfg, plain)
        assert Job.of(cfg, plain).base["config_hash"] in hashes, (arm, dataset, model)
        checked += 1
    assert checked >= {"paper_main": 200, "ablation_hops": 12, "ablation_threshold": 12}[study]


def test_study_reuse_lists_name_committed_studies() -> None:
    for path in (ROOT / "conf" / "experiment").glob("*.yaml"):
        for source in OmegaConf.select(OmegaConf.load(path), "study.reuse", default=None) or []:
            assert (ROOT / source).is_file(), f"{path.name}: study.reuse names {source}"


def test_no_results_folder_is_named_after_a_work_item_and_no_lock_is_tracked() -> None:
    names = [p.name for p in RESULTS.rglob("*") if p.is_dir()]
    assert not [n for n in names if n.startswith("issue")], names
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked and not [t for t in tracked if t.endswith(".lock")]


_FROZEN = "budget 0.02, ego samples, roots x size, contrast rank, frozen norm"


@pytest.mark.parametrize("rule,label", [
    ("budget2", "budget 0.02"), ("top10", "top 10"),
    ("contrast_ego_size_frozen", _FROZEN),
    ("contrast_ego_size_frozen_set", f"{_FROZEN}, norm stats of the set"),
    ("contrast_ego_size_frozen_set_deg", f"{_FROZEN}, norm stats of the set, source degrees"),
    ("contrast_ego_size_bg4", "budget 0.02, ego samples, roots x size, contrast rank, background "
                              "nodes, 4 trees per background node"),
    ("contrast_ego_size_frozen_h3", _FROZEN.replace("0.02,", "0.02, 3 hops,")),
    ("contrast_ego_size_frozen_z", f"{_FROZEN}, lead z >= 1.96")])
def test_generic_rules_keep_their_committed_hashes(rule: str, label: str) -> None:
    """A rule of the generic-default study states every option, so its committed rows stay
    found when the distiller's defaults change (the generic default did, in issue 29)."""
    from experiments.studies.generic_default import RULES, dataset_overrides
    from mirage.report import paired, rows

    committed = rows.load([RESULTS / "generic_default" / "runs.csv"])
    mine = committed[(committed["distiller"] == "mirage") & (committed["dataset"] == "MUTAG")
                     & (committed["model"] == "gcn") & (committed["status"] == "ok")]
    hashes = set(mine[mine.apply(paired.rule_of, axis=1) == label]["config_hash"])
    assert hashes, label
    assert _config_hash([*dataset_overrides("MUTAG", ROOT / "data" / "syn"), "distiller=mirage",
                         "model=gcn", *RULES[rule]]) in hashes


def _config_hash(overrides: list[str]) -> str:
    """The config hash a run composed from ``overrides`` writes on its rows."""
    cfg = compose_cfg(overrides)
    return Job.of(cfg, validate(cfg)).base["config_hash"]


@pytest.mark.parametrize("group,name", [("tu", "MUTAG"), ("ogb", "ogbg-molbace")])
def test_the_generic_path_composes_to_the_studys_default_rule(group: str, name: str) -> None:
    """What a user gets with no Mirage override is the rule the generic-default study reports as
    the default: its rows are the default's rows (the tables and the README quote them so)."""
    from experiments.studies.generic_default import DEFAULT, RULES, dataset_overrides

    base = [*dataset_overrides(name, ROOT / "data" / "syn", group), "distiller=mirage",
            "model=gcn"]
    assert _config_hash(base) == _config_hash([*base, *RULES[DEFAULT]])
