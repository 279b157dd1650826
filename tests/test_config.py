"""Every option of every config group composes; bad input fails with a one-line message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF, ROOT, compose_cfg, data_root
from omegaconf import OmegaConf

from mirage.errors import MirageError
from mirage.pipeline import run
from mirage.validation import validate

GROUPS = {g: sorted(p.stem for p in (CONF / g).glob("*.yaml")) for g in
          ("dataset", "model", "distiller", "experiment")}


def test_required_options_exist() -> None:
    assert {"mutag", "nci1", "dd", "imdb_b", "ogbg_molbace", "ogbg_molbbbp", "ogbg_molhiv",
            "synthetic", "tu", "ogb"} <= set(GROUPS["dataset"])
    assert {"gcn", "gin", "gat"} <= set(GROUPS["model"])
    assert {"full", "random"} <= set(GROUPS["distiller"])


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
@pytest.mark.slow
def test_every_option_composes(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    if option in ("tu", "ogb"):
        overrides.append(f"dataset.name={'PROTEINS' if option == 'tu' else 'ogbg-molbace'}")
    cfg = compose_cfg(overrides)
    validate(cfg)
    if group == "experiment":  # an experiment changes the default composition
        assert cfg != compose_cfg([])
    else:  # the chosen file, not the group's default, is the one composed
        name = {"tu": "PROTEINS", "ogb": "ogbg-molbace"}.get(option)
        assert cfg[group].name == (name or OmegaConf.load(CONF / group / f"{option}.yaml").name)


@pytest.mark.parametrize("dataset", GROUPS["dataset"])
@pytest.mark.parametrize("model", GROUPS["model"])
@pytest.mark.slow
def test_mirage_gnn_is_as_deep_as_its_trees(dataset: str, model: str) -> None:
    overrides = ["distiller=mirage", f"dataset={dataset}", f"model={model}"]
    cfg = compose_cfg(overrides)
    assert cfg.model.num_layers == cfg.distiller.hops
    # The link survives a hops sweep (the ablation changes both).
    assert compose_cfg([*overrides, "distiller.hops=4"]).model.num_layers == 4


@pytest.mark.slow
def test_tuned_settings_follow_the_original() -> None:
    dd_gat = compose_cfg(["distiller=mirage", "dataset=dd", "model=gat"])
    assert (dd_gat.distiller.hops, dict(dd_gat.distiller.threshold)) == (1, {0: 15, 1: 9})
    assert (dd_gat.model.hidden, dd_gat.model.dropout) == (64, 0.1)
    hiv_gcn = compose_cfg(["distiller=mirage", "dataset=ogbg_molhiv", "model=gcn"])
    assert hiv_gcn.model.batch_norm and hiv_gcn.train.batch_size == 64
    assert hiv_gcn.model.jk == "last" and hiv_gcn.model.embedding_init == "xavier"
    hiv_gat = compose_cfg(["distiller=mirage", "dataset=ogbg_molhiv", "model=gat"])
    assert hiv_gat.model.jk == "sum" and hiv_gat.train.weight_decay == pytest.approx(1e-6)
    assert compose_cfg(["distiller=mirage", "dataset=ogbg_molhiv", "model=gin"]).model.jk == "last"
    # OGB's encoder initialisation on OGB molecules; PyTorch's default elsewhere.
    inits = {"ogbg_molbace": "xavier", "ogbg_molbbbp": "xavier", "ogb": "xavier", "nci1": "normal",
             "tu": "normal"}
    for dataset, init in inits.items():
        assert compose_cfg(["distiller=mirage", f"dataset={dataset}"]).model.embedding_init == init
    bbbp = compose_cfg(["distiller=mirage", "dataset=ogbg_molbbbp"])
    assert (bbbp.distiller.hops, dict(bbbp.distiller.threshold)) == (2, {0: 24, 1: 109})
    bace = compose_cfg(["distiller=mirage", "dataset=ogbg_molbace", "model=gin"])
    assert (bace.distiller.hops, bace.model.num_layers, dict(bace.distiller.threshold)) == (
        4, 4, {0: 150, 1: 104})
    nci1 = compose_cfg(["distiller=mirage", "dataset=nci1"])
    assert nci1.distiller.threshold == 0.15 and not nci1.distiller.cross_class_filter
    assert nci1.train.weight_decay == pytest.approx(1e-2)
    # Tuned Mirage settings never leak into other distillers.
    assert compose_cfg(["distiller=random", "dataset=dd"]).train.weight_decay == 0.0


def test_data_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIRAGE_DATA_ROOT", "/some/where")
    assert compose_cfg([]).data_root == "/some/where"


def _run(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MIRAGE_DATA_ROOT": str(data_root())}
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), f"results_dir={tmp}/results",
         f"cache_dir={tmp}/cache", f"hydra.run.dir={tmp}/out", f"hydra.sweep.dir={tmp}/multi",
         "train.epochs=1", "seeds=[0]", *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp)


@pytest.mark.parametrize("args,needle", [
    (["distiller=random", "distiller.gpc=0"], "distiller.gpc must be a positive integer"),
    (["distiller=random", "distiller.gpc=-2"], "distiller.gpc must be a positive integer"),
    (["distiller.hops=0"], "distiller.hops"),
    (["distiller.threshold=1.5"], "distiller.threshold"),
    (["train.epochs=0"], "train.epochs must be a positive integer"),
    (["model.dropout=1.5"], "model.dropout"),
    (["model.layer_dropout=1"], "model.layer_dropout must lie in [0, 1)"),
    (["model=gin", "model.mlp_ratio=0"], "model.mlp_ratio must be a positive integer"),
    (["model.jk=max"], "model.jk='max' is not one of"),
    (["model=gcn", "+model.heads=4"], "model.heads applies to conv=gat only"),
    (["model.embedding_init=zeros"], "model.embedding_init='zeros' is not one of"),
    (["train.eval_at_init=maybe"], "train.eval_at_init must be true or false"),
    (["device=tpu"], "device='tpu'"),
    (["dataset=tu", "dataset.name=NOPE_DATASET"], "TU/NOPE_DATASET"),
])
def test_bad_input_names_the_key(run_cfg, args: list[str], needle: str) -> None:
    with pytest.raises(MirageError) as err:
        run(run_cfg("train.epochs=1", "seeds=[0]", *args))
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("args,needle", [
    (["distiller=random", "distiller.gpc=0"], "distiller.gpc must be a positive integer"),
    (["dataset=tu", "dataset.name=NOPE_DATASET"], "TU/NOPE_DATASET"),
])
@pytest.mark.slow
def test_cli_error_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = _run(*args, tmp=tmp_path)
    assert out.returncode == 2
    err = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and needle in err[0], out.stderr[-2000:]
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_unknown_option_lists_valid_ones(tmp_path: Path) -> None:
    out = _run("distiller=nope", tmp=tmp_path)
    assert out.returncode != 0
    assert "distiller/nope" in out.stderr and "random" in out.stderr


def _readme_runs() -> list[list[str]]:
    """The overrides of each ``python run.py`` command in the README, one job of each sweep (the
    first value of every comma list), Hydra's own keys left out."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    runs = []
    for line in re.findall(r"^python run\.py([^#\n]*)", text, flags=re.MULTILINE):
        command = re.split(r"&&|;|\|", line)[0]
        words = [w for w in shlex.split(command) if w != "-m" and not w.startswith("hydra")]
        runs.append([w.split(",")[0] if "=" in w else w for w in words])
    return runs


@pytest.mark.parametrize("overrides", _readme_runs(), ids=" ".join)
def test_every_run_command_of_the_readme_validates(overrides: list[str]) -> None:
    """The front door's commands stay valid as configs change (their input checks need no data
    and no run)."""
    validate(compose_cfg(overrides))
