"""Bad input stops a run before it writes anything; only a failure while measuring is a row.

Each case runs ``run.py`` as a user would: exit status 2 and one ``error:`` line for bad input
(``runs.csv`` absent or unchanged, resume or not); exit status 1, ``status=failed`` rows and a
summary that says so for a failure while measuring.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLUGIN_ARGS, ROOT, data_root, subprocess_env

from mirage.records import read_rows

pytestmark = pytest.mark.slow  # every test here runs the command line in a subprocess

FAST = ("train.epochs=1", "seeds=[0]")


def _run(tmp: Path, *args: str, multirun: bool = False,
         **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "run.py"), *(["-m"] if multirun else []),
           f"results_dir={tmp}/results", f"cache_dir={tmp}/cache", f"hydra.run.dir={tmp}/out",
           f"hydra.sweep.dir={tmp}/multi", "progress=false", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(**env),
                          timeout=600, cwd=tmp)


def _errors(out: subprocess.CompletedProcess) -> list[str]:
    return [line for line in out.stderr.splitlines() if line.startswith("error:")]


def _no_wandb_key(tmp: Path) -> dict[str, str]:
    """W&B online with no key anywhere it looks (environment, ~/.netrc, settings)."""
    return {"WANDB_MODE": "online", "HOME": str(tmp / "home"), "WANDB_API_KEY": "",
            "WANDB_CONFIG_DIR": str(tmp / "home" / "wandb")}


@pytest.mark.parametrize("case", ["gpc", "wandb", "data_root"])
def test_a_config_error_writes_no_row_and_exits_2(tmp_path: Path, case: str) -> None:
    args, env, needle = {
        "gpc": (("distiller=random", "distiller.gpc=-1"), {},
                "distiller.gpc must be a positive integer"),
        "wandb": (("logger=wandb",), _no_wandb_key(tmp_path), "WANDB_MODE=offline"),
        "data_root": ((f"data_root={tmp_path}/nowhere",), {}, "does not exist"),
    }[case]
    out = _run(tmp_path, *FAST, *args, **env)
    assert out.returncode == 2, out.stderr[-2000:]
    assert len(_errors(out)) == 1 and needle in _errors(out)[0], out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "results").exists()
    # The job's status file tells the truth too: it ended, on bad input.
    status = json.loads((tmp_path / "out" / "job_status.json").read_text())
    assert (status["status"], status["kind"]) == ("failed", "input")


def test_wandb_error_says_how_to_log_in_or_go_offline(tmp_path: Path) -> None:
    out = _run(tmp_path, *FAST, "logger=wandb", **_no_wandb_key(tmp_path))
    assert "wandb login" in out.stderr and "WANDB_MODE=offline" in out.stderr


def test_a_sweep_with_bad_input_runs_no_job(tmp_path: Path) -> None:
    """One job's bad value stops the sweep before its first job: no row, exit 2, one line that
    names the job."""
    out = _run(tmp_path, *FAST, "distiller=random", "distiller.gpc=3,-1", multirun=True)
    assert out.returncode == 2, out.stderr[-2000:]
    (line,) = _errors(out)
    assert "distiller.gpc must be a positive integer" in line and "distiller.gpc=-1" in line
    assert not (tmp_path / "results").exists()


def _mutag_copy(tmp: Path) -> Path:
    root = tmp / "data"
    shutil.copytree(data_root() / "TU" / "MUTAG", root / "TU" / "MUTAG")
    return root


def test_resume_checks_the_input_before_nothing_to_do(tmp_path: Path) -> None:
    root = _mutag_copy(tmp_path)
    first = _run(tmp_path, *FAST, "distiller=random", f"data_root={root}")
    assert first.returncode == 0, first.stderr[-2000:]
    csv = tmp_path / "results" / "runs.csv"
    rows = read_rows(csv)
    assert [r["status"] for r in rows] == ["ok"]
    # Every seed has its row, but a data root that is not there is still an error.
    gone = _run(tmp_path, *FAST, "distiller=random", f"data_root={tmp_path}/nowhere")
    assert gone.returncode == 2 and "does not exist" in _errors(gone)[0]
    # And so is a truncated raw file.
    a = root / "TU" / "MUTAG" / "raw" / "MUTAG_A.txt"
    a.write_bytes(a.read_bytes()[: a.stat().st_size // 2])
    cut = _run(tmp_path, *FAST, "distiller=random", f"data_root={root}")
    assert cut.returncode == 2 and "MUTAG_A.txt" in _errors(cut)[0], cut.stderr[-2000:]
    assert read_rows(csv) == rows


def test_a_measuring_failure_is_a_row_and_the_summary_says_so(tmp_path: Path) -> None:
    grid = (*PLUGIN_ARGS, "dataset=mutag", "distiller=random,exploding", "model=gin",
            "seeds=[0,1]", "train.epochs=1")
    out = _run(tmp_path, *grid, multirun=True)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "failed (failed while measuring): distiller=exploding" in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("1 of 2 jobs failed: 1 while measuring"), last
    assert "rerun the same command to retry" in last
    rows = read_rows(tmp_path / "results" / "runs.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    # One failed row per unmeasured seed, so seed stays an integer column.
    assert sorted(r["seed"] for r in failed) == ["0", "1"]
    assert all("exploded while distilling" in r["error"] for r in failed)
    assert len([r for r in rows if r["status"] == "ok"]) == 2
    # A rerun retries only the failed job (and fails it again); the ok one is not redone.
    again = _run(tmp_path, *grid, multirun=True)
    assert again.returncode == 1 and (again.stdout + again.stderr).count("nothing to do") == 1
    assert len(read_rows(tmp_path / "results" / "runs.csv")) == 6


def test_a_single_measuring_failure_exits_1_and_says_rerun(tmp_path: Path) -> None:
    out = _run(tmp_path, *PLUGIN_ARGS, *FAST, "distiller=exploding")
    assert out.returncode == 1
    (line,) = _errors(out)
    assert "exploded while distilling" in line and "rerun the same command" in line
    status = json.loads((tmp_path / "out" / "job_status.json").read_text())
    assert (status["status"], status["kind"]) == ("failed", "measuring")
    assert [r["status"] for r in read_rows(tmp_path / "results" / "runs.csv")] == ["failed"]


@pytest.mark.parametrize("sweep,jobs", [
    (("distiller=random,herding", "distiller.gpc=2", "model=gcn,gin"), 4),
    (("distiller=random,kidd", "distiller.gpc=1,2", "distiller.steps=2"), None),
])
def test_a_key_some_options_share_applies_to_each_job(tmp_path: Path, sweep: tuple[str, ...],
                                                      jobs: int | None) -> None:
    """``distiller=A,B distiller.gpc=2``: Hydra would fail on the default distiller (Mirage,
    no ``gpc``) before any job; each job gets the key instead."""
    if jobs is None:  # distiller.steps is KiDD's only: that job names it
        out = _run(tmp_path, *FAST, *sweep, multirun=True)
        assert out.returncode == 2 and not (tmp_path / "results").exists()
        (line,) = _errors(out)
        assert "distiller.steps=2 cannot apply to distiller=random" in line
        assert "no key 'steps'" in line
        sweep, jobs = sweep[:2], 4
    out = _run(tmp_path, *FAST, *sweep, multirun=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = read_rows(tmp_path / "results" / "runs.csv")
    assert len(rows) == jobs and all(r["status"] == "ok" for r in rows)
    assert {r["distiller.gpc"] for r in rows} == ({"2"} if "distiller.gpc=2" in sweep
                                                  else {"1", "2"})


def test_a_key_a_swept_option_lacks_names_both(tmp_path: Path) -> None:
    out = _run(tmp_path, *FAST, "distiller=mirage,random", "distiller.gpc=2", multirun=True)
    assert out.returncode == 2
    (line,) = _errors(out)
    assert "distiller.gpc=2 cannot apply to distiller=mirage, which has no key 'gpc'" in line
    assert not (tmp_path / "results").exists()


def test_a_null_override_in_a_multirun_is_applied_not_swept(tmp_path: Path) -> None:
    """``distiller.root_weight=null`` cannot be a sweep choice; in a multirun it stays a plain
    override and every job gets it."""
    out = _run(tmp_path, *FAST, "distiller=mirage", "distiller.root_weight=null",
               "distiller.budget_bytes=null", "model=gcn,gin", multirun=True)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = read_rows(tmp_path / "results" / "runs.csv")
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
