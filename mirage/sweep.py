"""A multirun's outcome, whatever the launcher: each job leaves a status file, the sweep ends
with one summary line and a non-zero exit code when any job failed.

Hydra calls :class:`SweepMonitor` (``hydra.callbacks`` in ``conf/config.yaml``) in the job's
process for job events (the sweep's process, a joblib worker or a Slurm node) and in the sweep's
process for the multirun events; the job's output folder (on the shared file system under Slurm)
is what connects them. A job killed before it ends leaves ``started`` and counts as failed.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from mirage.sources import write_atomic

log = logging.getLogger("mirage")

STATUS_FILE = "job_status.json"


def _write_status(folder: Path, status: dict[str, Any]) -> None:
    write_atomic(folder / STATUS_FILE, lambda tmp: tmp.write_text(json.dumps(status)))


def job_outcome(job_return: JobReturn) -> dict[str, Any]:
    """``{'status': 'ok'|'failed', 'error': ...}`` of a finished job: the task function returns
    such a dict in a multirun (so one failure does not abort Hydra's batch); an exception that
    escaped it counts as failed too."""
    if job_return.status == JobStatus.FAILED:
        err = job_return._return_value
        return {"status": "failed", "error": f"{type(err).__name__}: {err}"}
    value = job_return._return_value
    return value if isinstance(value, dict) and "status" in value else {"status": "ok"}


class SweepMonitor(Callback):
    """Status file per job; summary line and exit code per multirun."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        _write_status(Path(config.hydra.runtime.output_dir),
                      {"status": "started", "overrides": list(config.hydra.overrides.task)})

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        _write_status(Path(config.hydra.runtime.output_dir),
                      {**job_outcome(job_return), "overrides": list(job_return.overrides or [])})

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1  # file systems round mtimes
        if show_progress(config.progress):
            _JobBar.start(Path(config.hydra.sweep.dir), self.started, count_jobs(config))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        _JobBar.stop()
        statuses = collect(Path(config.hydra.sweep.dir), since=self.started)
        failed = [s for s in statuses if s["status"] != "ok"]
        if not failed:
            log.info("all %d jobs succeeded", len(statuses))
            return
        shared = set.intersection(*(set(s["overrides"]) for s in statuses))
        for s in failed:
            own = [o for o in s["overrides"] if o not in shared] or s["overrides"]
            print(f"failed: {' '.join(own)}: {_reason(s)}", file=sys.stderr)
        print(f"{len(failed)} of {len(statuses)} jobs failed (rows with status=failed are in "
              "the results CSV; rerun the same command to retry them)", file=sys.stderr)
        sys.exit(1)


def show_progress(setting: Any) -> bool:
    """``progress``: ``auto`` shows bars only on a terminal, so log files stay quiet."""
    return sys.stderr.isatty() if setting == "auto" else bool(setting)


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs the command line's sweep overrides make (``None`` if unknown, e.g. glob)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        total = 1
        for override in OverridesParser.create().parse_overrides(
                list(config.hydra.overrides.task)):
            if override.is_sweep_override():
                total *= len(list(override.sweep_string_iterator()))
        return total
    except Exception:  # a sweep Hydra can expand but not count up front
        return None


class _JobBar:
    """A bar of finished jobs for the sweep's terminal, fed by the status files, so it works
    under every launcher (jobs may run in other processes or on other machines). Class-level
    state: Hydra pickles callbacks into job processes, where there is no bar."""

    bar: Any = None
    done = threading.Event()

    @classmethod
    def start(cls, sweep_dir: Path, since: float, total: int | None) -> None:
        from tqdm import tqdm

        cls.bar, cls.done = tqdm(total=total, desc="jobs", unit="job"), threading.Event()

        def poll() -> None:
            while not cls.done.wait(1.0):
                finished = sum(s["status"] != "started" for s in collect(sweep_dir, since))
                cls.bar.update(finished - cls.bar.n)

        threading.Thread(target=poll, daemon=True).start()

    @classmethod
    def stop(cls) -> None:
        if cls.bar is not None:
            cls.done.set()
            cls.bar.close()
            cls.bar = None


def collect(sweep_dir: Path, since: float) -> list[dict[str, Any]]:
    """The status of every job of this sweep (its files written after ``since``), by job folder;
    older files belong to an earlier sweep into the same folder."""
    out = []
    for path in sorted(sweep_dir.glob(f"**/{STATUS_FILE}")):
        try:
            if path.stat().st_mtime >= since:
                out.append(json.loads(path.read_text()))
        except (OSError, ValueError):  # replaced while we read it
            continue
    return out


def _reason(status: dict[str, Any]) -> str:
    if status["status"] == "started":
        return "did not finish (killed?)"
    return " ".join(str(status.get("error", "")).split())[:300]
