"""What a run tells its user: log lines that lead with the selection metric and end with a
summary, and no third-party noise (W&B banners, library progress, known warnings) in log files."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, subprocess_env

from mirage.pipeline import run


def test_seed_lines_lead_with_the_selection_metric_and_a_job_ends_with_a_summary(
        run_cfg, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mirage")
    rows = run(run_cfg("distiller=random", "distiller.gpc=2", "model=gcn", "train.epochs=3",
                       "seeds=[0,1]"))
    lines = [r.getMessage() for r in caplog.records]
    seed0 = next(line for line in lines if "seed 0:" in line)
    # Selection metric first (MUTAG selects on val AUC), calibrated accuracy beside raw.
    assert re.match(r"MUTAG-random-gcn seed 0: test_auc \d\.\d{4} \(val_auc \d\.\d{4}, epoch \d+\);"
                    r" test_acc_cal \d\.\d{4}, test_acc \d\.\d{4}$", seed0), seed0
    assert f"test_acc_cal {rows[0]['test_acc_cal']:.4f}" in seed0
    (summary,) = [line for line in lines if "over 2 seeds" in line]
    mean_auc = sum(r["test_auc"] for r in rows) / 2
    assert summary.startswith(f"MUTAG-random-gcn: test_auc {mean_auc:.4f} +- ")
    assert "test_acc_cal" in summary and summary.endswith("over 2 seeds [0, 1]")
    # A resumed job has nothing to do, and still says where it stands.
    caplog.clear()
    run(run_cfg("distiller=random", "distiller.gpc=2", "model=gcn", "train.epochs=3",
                "seeds=[0,1]", f"results_dir={Path(run_cfg().results_dir)}"))
    assert any("over 2 seeds" in r.getMessage() for r in caplog.records)
    # Rows written before a column existed (empty there) still resume and summarise.
    path = Path(run_cfg().results_dir) / "runs.csv"
    old = pd.read_csv(path, dtype=str, keep_default_na=False).assign(test_acc_cal="")
    old.to_csv(path, index=False)
    caplog.clear()
    assert run(run_cfg("distiller=random", "distiller.gpc=2", "model=gcn", "train.epochs=3",
                       "seeds=[0,1]")) == []
    (summary,) = [r.getMessage() for r in caplog.records if "over 2 seeds" in r.getMessage()]
    assert "test_acc_cal" not in summary and "test_acc " in summary


@pytest.mark.slow
def test_wandb_console_stays_quiet(run_cfg, tmp_path: Path, capfd: pytest.CaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.delenv("WANDB_SILENT", raising=False)
    run(run_cfg("logger=wandb", "distiller=random", "model=gcn", "seeds=[0]", "train.epochs=2"))
    out = capfd.readouterr()
    noise = [line for line in (out.out + out.err).splitlines() if line.startswith("wandb:")]
    assert noise == [], noise[:5]


@pytest.mark.slow
def test_library_progress_stays_out_of_log_files(tmp_path: Path) -> None:
    """A first load processes the raw files: OGB and PyG print "Processing...", tqdm bars and a
    NumPy warning. Off a terminal (``progress=auto``), none of it reaches the output."""
    out = subprocess.run([sys.executable, str(ROOT / "run.py"), "dataset=ogbg_molbace",
                          "distiller=random", "distiller.gpc=1", "model=gcn", "train.epochs=1",
                          "seeds=[0]", f"results_dir={tmp_path}/results",
                          f"cache_dir={tmp_path}/cache", f"hydra.run.dir={tmp_path}/out"],
                         capture_output=True, text=True, env=subprocess_env(), timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    for noise in ("Processing", "Loading necessary files", "it/s]", "UserWarning"):
        assert noise not in text, text[-2000:]
    assert "ogbg-molbace-random-gcn seed 0: test_auc" in text


def test_adhoc_tables_go_where_git_does_not_look() -> None:
    """The README's table command writes into a folder git ignores, never into committed
    results."""
    from experiments.analysis.tables import DEFAULT_OUT

    probe = ROOT / DEFAULT_OUT / "summary.md"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=ROOT)
    assert ignored.returncode == 0, f"{DEFAULT_OUT} is not ignored by git"
