"""Sweeps you can trust: resume after a kill, a failing sweep exits non-zero, unknown keys are
refused, submitit's launcher runs the same code path, W&B gets one run per seed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import CONF, PLUGIN_ARGS, ROOT, compose_cfg, subprocess_env
from omegaconf import OmegaConf

from mirage.errors import ConfigError
from mirage.pipeline import run
from mirage.records import read_rows, run_key
from mirage.schema import check_keys
from mirage.validation import validate


def _cmd(tmp: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "-m", f"results_dir={tmp}/results",
            f"cache_dir={tmp}/cache", f"hydra.sweep.dir={tmp}/multi", "progress=false",
            *overrides]


def _env() -> dict[str, str]:
    return subprocess_env()


def _sweep(tmp: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(tmp, *overrides), capture_output=True, text=True, env=_env(),
                          timeout=500, cwd=tmp)


GRID = ("dataset=mutag", "distiller=random,full", "model=gcn,gin", "seeds=[0,1]")


@pytest.mark.slow
def test_killed_sweep_resumes_and_a_third_run_does_nothing(tmp_path: Path) -> None:
    """The issue's check: a 2 x 2 x 2-seed sweep killed with SIGKILL mid-way, rerun: every
    (config, seed) exactly once; a third invocation trains nothing."""
    csv = tmp_path / "results" / "runs.csv"
    proc = subprocess.Popen(_cmd(tmp_path, *GRID, "train.epochs=20"), env=_env(), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while len(read_rows(csv)) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = read_rows(csv)
    assert 3 <= len(before) < 8, "the kill should land mid-sweep"

    second = _sweep(tmp_path, *GRID, "train.epochs=20")
    assert second.returncode == 0, second.stderr[-3000:]
    rows = read_rows(csv)
    assert len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    assert rows[:len(before)] == before  # nothing written before the kill was lost or redone
    assert Counter(run_key(r) for r in rows).most_common(1)[0][1] == 1
    assert {(r["distiller"], r["model"], r["seed"]) for r in rows} == {
        (d, m, s) for d in ("random", "full") for m in ("gcn", "gin") for s in ("0", "1")}

    third = _sweep(tmp_path, *GRID, "train.epochs=20")
    assert third.returncode == 0 and read_rows(csv) == rows
    log = third.stdout + third.stderr
    assert log.count("nothing to do") == 4, log[-3000:]
    assert "distilled graphs" not in log  # not even the data was loaded

    forced = _sweep(tmp_path, "dataset=mutag", "distiller=random", "model=gcn", "seeds=[0,1]",
                    "train.epochs=20", "force=true")
    assert forced.returncode == 0 and len(read_rows(csv)) == 10


@pytest.mark.parametrize("override,key", [
    ("+train.epoch=5", "train.epoch"),
    ("+wandb.mode=offline", "wandb"),
    ("+logger.wandb.modes=offline", "logger.wandb.modes"),
    ("+distiller.hop=3", "distiller.hop"),
    ("+model.head=4", "model.head"),
    ("+dataset.split.frac=0.2", "dataset.split.frac"),
    ("+dataset.degree_features=true", "dataset.degree_features"),  # an OGB dataset has none
])
def test_unknown_keys_are_refused(override: str, key: str) -> None:
    cfg = compose_cfg(["dataset=ogbg_molbace" if "degree" in override else "dataset=mutag",
                       override])
    plain = OmegaConf.to_container(cfg, resolve=True)
    with pytest.raises(ConfigError, match=rf"unknown key {key}\b.*valid keys"):
        check_keys(plain)


@pytest.mark.slow
def test_every_composed_option_passes_the_key_check() -> None:
    for group in ("dataset", "distiller", "model", "logger"):
        for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
            overrides = [f"{group}={option}"]
            if option in ("tu", "ogb"):
                overrides.append("dataset.name=X")
            check_keys(OmegaConf.to_container(compose_cfg(overrides), resolve=True))


@pytest.mark.slow
def test_unknown_key_is_one_line_before_any_work(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "run.py"), "+train.epoch=5",
                          f"results_dir={tmp_path}/results", f"hydra.run.dir={tmp_path}/out"],
                         capture_output=True, text=True, env=_env(), timeout=120, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        line for line in out.stderr.strip().splitlines() if line.startswith("error:")]
    assert "unknown key train.epoch" in out.stderr and "'epochs'" in out.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_submitit_local_runs_the_sweep(tmp_path: Path) -> None:
    """The Slurm code path without Slurm: submitit pickles each job to a subprocess."""
    out = _sweep(tmp_path, "hydra/launcher=submitit_local", *PLUGIN_ARGS, "dataset=mutag",
                 "distiller=exploding,random", "model=gcn", "seeds=[0]",
                 "train.epochs=2")
    assert out.returncode == 1, out.stderr[-3000:]
    assert out.stderr.strip().splitlines()[-1].startswith("1 of 2 jobs failed: 1 while measuring")
    rows = read_rows(tmp_path / "results" / "runs.csv")
    assert sorted(r["status"] for r in rows) == ["failed", "ok"]
    statuses = sorted((tmp_path / "multi").glob("*/job_status.json"))
    assert [json.loads(p.read_text())["status"] for p in statuses] == ["failed", "ok"]


def _wandb_records(path: Path) -> list:
    """The records of an offline W&B run file (its LevelDB-style log of protobuf ``Record``s:
    7-byte file header, 32 KiB blocks, chunks with a 7-byte header of crc, length and type)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, pending, records = path.read_bytes(), 7, b"", []
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer too short for a chunk header
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # full, or last of a split record
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _finished_runs(folder: Path, count: int, wait_s: float = 60) -> list[list]:
    """The records of the ``count`` offline runs under ``folder`` once each file holds its exit
    record: W&B's service may still be writing a file when ``finish`` returns to a loaded
    machine, and a half-written file reads as fewer records."""
    deadline = time.monotonic() + wait_s
    while True:
        runs = [_wandb_records(p) for p in sorted(folder.glob("offline-run-*/run-*.wandb"))]
        done = len(runs) == count and all(any(r.HasField("exit") for r in rs) for rs in runs)
        if done or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def _items(items) -> dict[str, object]:
    return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in items}


@pytest.mark.slow
def test_wandb_offline_one_run_per_seed(run_cfg, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """logger=wandb honours WANDB_MODE and WANDB_DIR: one run per seed, grouped by the job, with
    the config and seed, one history step per epoch and the row as summary."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = run_cfg("logger=wandb", "distiller=random", "model=gcn", "seeds=[0,1]",
                  "train.epochs=3")
    assert cfg.logger.wandb.mode == "offline"
    rows = run(cfg)
    # Run folders are named by start second and a random id: order the runs by their seed.
    by_seed = sorted(_finished_runs(tmp_path / "wb" / "wandb", 2),
                     key=lambda rs: next(r.run.display_name for r in rs if r.HasField("run")))
    assert len(by_seed) == 2
    for seed, (records, row) in enumerate(zip(by_seed, rows, strict=True)):
        (info,) = [r.run for r in records if r.HasField("run")]
        assert (info.run_group, info.job_type, info.display_name) == (
            "MUTAG-random-gcn", "train", f"MUTAG-random-gcn-seed{seed}")
        config = _items(info.config.update)
        assert config["seed"] == seed and config["dataset"]["name"] == "MUTAG"
        history = [_items(r.history.item) for r in records if r.HasField("history")]
        assert [h["epoch"] for h in history] == [1, 2, 3]
        assert {"val/auc", "test/acc_cal", "train/loss"} <= set(history[0])
        summary: dict[str, object] = {}
        for r in records:
            if r.HasField("summary"):
                summary.update(_items(r.summary.update))
        assert summary["seed"] == seed and summary["test_auc"] == pytest.approx(row["test_auc"])


def test_validation_needs_no_data() -> None:
    with pytest.raises(ConfigError, match="force must be true or false"):
        validate(compose_cfg(["force=maybe"]))
    with pytest.raises(ConfigError, match=r"dataset\.name has no value"):
        validate(compose_cfg(["dataset=tu"]))


@pytest.mark.slow
def test_ctrl_c_stops_with_one_line_and_keeps_rows(tmp_path: Path) -> None:
    csv = tmp_path / "results" / "runs.csv"
    proc = subprocess.Popen(_cmd(tmp_path, "dataset=mutag", "distiller=full", "model=gcn,gin",
                                 "seeds=[0,1,2]", "train.epochs=60"),
                            env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            # a background shell (CI) starts us with SIGINT ignored: restore it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while not read_rows(csv) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: rows already written are kept")
    assert 1 <= len(read_rows(csv)) < 6


def test_slurm_launcher_config_composes() -> None:
    """The documented Slurm config is a valid submitit_slurm config with our defaults."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm",
                                           "hydra.launcher.partition=gpu"],
                      return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.cpus_per_task, launcher.array_parallelism) == (
        "gpu", 2, 64)
    assert launcher.submitit_folder.endswith("/.submitit/%j")  # inside the sweep's folder


def test_jobs_bar_ends_at_the_last_job(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The bar reads the status files once a second; it counts once more when the sweep ends,
    so it never closes one short ("2/3" just before "all 3 jobs succeeded")."""
    from mirage.sweep import STATUS_FILE, JobBar

    JobBar.start(tmp_path, time.time() - 1, 3)
    for job in range(3):
        (tmp_path / str(job)).mkdir()
        (tmp_path / str(job) / STATUS_FILE).write_text(json.dumps({"status": "ok"}))
    JobBar.stop()  # at once: the poller has not seen the files yet
    assert "3/3" in capsys.readouterr().err
