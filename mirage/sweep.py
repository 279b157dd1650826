"""A multirun from the command line to its outcome, whatever the launcher.

Before: :func:`apply_to_each_option` lets a key that only some options of a swept group have
(``distiller=doscond,herding distiller.gpc=2``) apply to each job, and :func:`check_sweep` (run by
the sweeper, ``hydra_plugins/mirage_sweeper``) checks every job's input before the first one
starts: bad input stops the sweep with one line per problem and exit status 2, writing no row.
After: each job leaves a status file, and the sweep ends with one line per failed job, saying
whether it was bad input (no row) or a failure while measuring (``status=failed`` rows, retried
by a rerun), and a non-zero exit code.

Hydra calls :class:`SweepMonitor` (``hydra.callbacks`` in ``conf/config.yaml``) in the job's
process for job events (the sweep's process, a joblib worker or a Slurm node) and in the sweep's
process for the multirun events; the job's output folder (on the shared file system under Slurm)
is what connects them. A job killed before it ends leaves ``started`` and counts as failed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import OverrideType, ValueType
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import ConfigCompositionException, HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict

from mirage.errors import MeasurementError, MirageError
from mirage.sources import write_atomic

log = logging.getLogger("mirage")

STATUS_FILE = "job_status.json"


def _write_status(folder: Path, status: dict[str, Any]) -> None:
    write_atomic(folder / STATUS_FILE, lambda tmp: tmp.write_text(json.dumps(status)))


# What failed, by the exception a job ended with: its exit status and how the summary reads it.
INPUT, MEASURING, INTERNAL = "input", "measuring", "internal"
EXIT_CODE = {INPUT: 2, MEASURING: 1, INTERNAL: 1}
KIND_TEXT = {INPUT: "bad input, no row written", MEASURING: "failed while measuring",
             INTERNAL: "failed"}


def failure(err: BaseException) -> dict[str, Any]:
    """The outcome of a job that raised ``err``: ``{'status': 'failed', 'kind', 'error'}``.
    Bad input (a :class:`~mirage.errors.MirageError` raised before measuring) is ``input``; a
    :class:`~mirage.errors.MeasurementError` is ``measuring``; anything else is ``internal``."""
    if isinstance(err, MeasurementError):
        kind = MEASURING
    else:
        kind = INPUT if isinstance(err, MirageError) else INTERNAL
    message = str(err) if isinstance(err, MirageError) else f"{type(err).__name__}: {err}"
    return {"status": "failed", "kind": kind, "error": " ".join(message.split())}


def job_outcome(job_return: JobReturn) -> dict[str, Any]:
    """``{'status': 'ok'|'failed', ...}`` of a finished job: the task function returns such a
    dict (so one failure does not abort Hydra's batch); an exception that escaped it counts as
    failed too."""
    if job_return.status == JobStatus.FAILED:
        return failure(job_return._return_value)
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
            JobBar.start(Path(config.hydra.sweep.dir), self.started, count_jobs(config))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        JobBar.stop()
        statuses = collect(Path(config.hydra.sweep.dir), since=self.started)
        failed = [s for s in statuses if s["status"] != "ok"]
        if not failed:
            log.info("all %d jobs succeeded", len(statuses))
            return
        shared = set.intersection(*(set(s["overrides"]) for s in statuses))
        for s in failed:
            own = [o for o in s["overrides"] if o not in shared] or s["overrides"]
            print(f"failed ({_kind_text(s)}): {' '.join(own)}: {_reason(s)}", file=sys.stderr)
        kinds = [s.get("kind", INTERNAL) for s in failed]
        parts = []
        if n := kinds.count(INPUT):
            parts.append(f"{n} on bad input (no row written: fix the value, then rerun)")
        if n := len(kinds) - kinds.count(INPUT):
            parts.append(f"{n} while measuring (rows with status=failed are in the results "
                         "CSV; rerun the same command to retry them)")
        print(f"{len(failed)} of {len(statuses)} jobs failed: {'; '.join(parts)}",
              file=sys.stderr)
        sys.exit(max(EXIT_CODE[k] for k in kinds))


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


class JobBar:
    """A bar of finished jobs for the sweep's terminal, fed by the status files, so it works
    under every launcher (jobs may run in other processes or on other machines). Class-level
    state: Hydra pickles callbacks into job processes, where there is no bar."""

    bar: Any = None
    done = threading.Event()
    poller: threading.Thread | None = None

    @classmethod
    def start(cls, sweep_dir: Path, since: float, total: int | None) -> None:
        from tqdm import tqdm

        cls.bar, cls.done = tqdm(total=total, desc="jobs", unit="job"), threading.Event()

        def poll() -> None:
            while True:
                stop = cls.done.wait(1.0)
                finished = sum(s["status"] != "started" for s in collect(sweep_dir, since))
                cls.bar.update(finished - cls.bar.n)
                if stop:  # one last count after the sweep, so the bar ends where it did
                    return

        cls.poller = threading.Thread(target=poll, daemon=True)
        cls.poller.start()

    @classmethod
    def stop(cls) -> None:
        if cls.bar is not None:
            cls.done.set()
            if cls.poller is not None:
                cls.poller.join()
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


def _kind_text(status: dict[str, Any]) -> str:
    return KIND_TEXT.get(status.get("kind", INTERNAL), "failed")


# --------------------------------------------------------------------------- before a sweep


def apply_to_each_option(argv: Sequence[str], groups: Sequence[str]) -> list[str]:
    """In a multirun, ``GROUP.key=value`` (a plain override of a key under one of the config
    ``groups``) becomes the one-value sweep ``GROUP.key=choice(value)``.

    Hydra composes a multirun's primary config with each group's default option before it
    sweeps, and that option may lack the key: ``distiller=doscond,herding distiller.gpc=2``
    fails on Mirage, which has no ``gpc``. A sweep override is left out of that composition and
    applied to each job instead; :func:`check_sweep` names any job whose option lacks the key.
    """
    if not {"-m", "--multirun"} & set(argv):
        return list(argv)
    parser = OverridesParser.create()
    out = []
    for arg in argv:
        try:
            (override,) = parser.parse_overrides([arg])
        except Exception:  # a flag or the script: not an override
            out.append(arg)
            continue
        key = override.key_or_group
        # null cannot be a sweep choice; it stays a plain override (the key must then exist in
        # the group's default option, as before this rewrite).
        if (override.type == OverrideType.CHANGE and override.value_type == ValueType.ELEMENT
                and override.package is None and "." in key and key.split(".")[0] in groups
                and override.value() is not None):
            arg = f"{key}=choice({arg.split('=', 1)[1]})"
        out.append(arg)
    return out


def check_sweep(loader: Any, master: DictConfig, batch: Sequence[Sequence[str]]) -> list[str]:
    """Compose every job of ``batch`` (as Hydra's sweeper does before launching) and make the
    input checks of :func:`mirage.pipeline.check_job`; returns one line per distinct problem,
    naming its first job."""
    from mirage.validation import check_job

    problems: dict[str, list[str]] = {}
    shared = set.intersection(*(set(o) for o in batch)) if batch else set()
    for overrides in batch:
        try:
            cfg = loader.load_sweep_config(master_config=master, sweep_overrides=list(overrides))
        except ConfigCompositionException as err:
            message = _composition_message(err, overrides, loader, master)
        else:
            OmegaConf.set_readonly(cfg, False)
            with open_dict(cfg):
                del cfg["hydra"]  # what the job's task function receives
            try:
                check_job(cfg)
                continue
            except MirageError as err:
                message = str(err)
        own = " ".join(o for o in overrides if o not in shared)
        problems.setdefault(" ".join(message.split()), []).append(own)
    lines = []
    for message, jobs in problems.items():
        more = f", and {len(jobs) - 1} more" if len(jobs) > 1 else ""
        lines.append(f"{message} (job: {jobs[0]}{more})" if jobs[0] else message)
    return lines


def _composition_message(err: HydraException, overrides: Sequence[str], loader: Any,
                         master: DictConfig) -> str:
    """Hydra's error for a job's config, in one line; for a key its option lacks, the option
    and the key by name."""
    found = re.search(r"Could not override '([^']+)'", str(err))
    if found:
        key = found.group(1)
        group, _, rest = key.partition(".")
        value = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), "")
        option = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{group}=")), None)
        if option is not None:
            try:
                cfg = loader.load_sweep_config(
                    master_config=master,
                    sweep_overrides=[o for o in overrides if not o.startswith(f"{key}=")])
                keys = f" (its keys: {sorted(OmegaConf.select(cfg, group))})"
            except HydraException:
                keys = ""
            return (f"{key}={value} cannot apply to {group}={option}, which has no key {rest!r}"
                    f"{keys}: sweep the options that have it in a command of their own")
    return " ".join(str(err).split("Config search path")[0].split())
