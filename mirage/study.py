"""What a study (``conf/experiment/``, its ``study:`` node) adds to a job: the arm's label and
seeds, the set each seed trains on (``distill_seed``), cells a machine leaves out (``skip``),
rows other studies already measured (``reuse``), and a byte budget taken from another arm's set
(``match_bytes``)."""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from pathlib import Path
from statistics import median
from typing import Any

from omegaconf import DictConfig

from mirage.errors import ConfigError
from mirage.job import Job
from mirage.records import adopt_rows, completed_seeds, csv_text, flatten, set_bytes

log = logging.getLogger("mirage")


def job_seeds(cfg: DictConfig) -> list[int]:
    """The job's evaluation seeds: its arm's own (``study.arm_seeds``), else ``seeds``."""
    arm = cfg.study.arm
    return list(cfg.study.arm_seeds.get(arm, cfg.seeds) if arm else cfg.seeds)


PER_SEED = "per_seed"  # distill_seed=per_seed: evaluation seed s trains on the set of draw s


def seed_draws(cfg: DictConfig, seeds: list[int]) -> dict[int, list[int]]:
    """Distill seed -> the evaluation seeds that train on its set: every seed on
    ``distill_seed``'s set, or, with ``distill_seed=per_seed``, seed s on its own draw s (so the
    spread over seeds covers the distiller's draw as well as the GNN's initialisation)."""
    return {s: [s] for s in seeds} if cfg.distill_seed == PER_SEED else {cfg.distill_seed: seeds}


def one_draw(cfg: DictConfig) -> int:
    """``distill_seed`` for a tool that reads one distilled set."""
    if cfg.distill_seed == PER_SEED:
        raise ConfigError(f"distill_seed={PER_SEED} draws a set per evaluation seed; this tool "
                          "reads one set: give distill_seed an integer")
    return cfg.distill_seed


def pending_seeds(cfg: DictConfig, job: Job, seeds: list[int]) -> list[int]:
    """Resume: the ``seeds`` without an ``ok`` or ``infeasible`` row of this configuration in
    the target CSV, after copying such rows from ``study.reuse`` (all seeds with
    ``force=true``). Failed seeds are retried."""
    if cfg.force:
        return list(seeds)
    done = completed_seeds(job.csv_path, job.base["config_hash"], cfg.distill_seed)
    missing = [s for s in seeds if s not in done]
    reuse = cfg.study.reuse
    sources = [Path(p) for p in reuse if Path(p).resolve() != job.csv_path.resolve()]
    if missing and sources:
        adopted = adopt_rows(sources, job.csv_path, job.base["config_hash"], cfg.distill_seed,
                             missing, job.base["arm"])
        if adopted:
            log.info("%s: seeds %s reused from %s", job.name, sorted(adopted), list(reuse))
        done |= adopted
    return [s for s in seeds if s not in done]


def cell(cfg: DictConfig) -> str:
    """``<dataset>/<arm or distiller>/<model>``: what ``skip`` patterns match."""
    return f"{cfg.dataset.name}/{cfg.study.arm or cfg.distiller.name}/{cfg.model.name}"


def skipped_by(cfg: DictConfig) -> str | None:
    """The first ``study.skip`` pattern that matches this job's :func:`cell`, if any."""
    return next((p for p in cfg.study.skip if fnmatchcase(cell(cfg), p)), None)


def match_budget(cfg: DictConfig, plain: dict[str, Any]) -> None:
    """Set ``plain``'s ``distiller.budget_bytes`` to the bytes of another set on this dataset
    (same dataset settings, model and distill seed), the median over its ``ok`` rows in
    ``<results_dir>/runs.csv``. ``study.match_bytes`` names that set: ``ARM`` (any arm of the
    study, e.g. ``mirage``) or ``DISTILLER:GPC`` (that distiller at ``gpc`` graphs per class,
    whatever its arm, e.g. ``doscond:1``)."""
    spec = cfg.study.match_bytes
    if spec is None:
        return
    name, sep, gpc = str(spec).partition(":")
    if sep and not gpc.isdigit():
        raise ConfigError(f"study.match_bytes={spec!r}: expected ARM (e.g. mirage) or "
                          "DISTILLER:GPC (e.g. doscond:1)")
    if "budget_bytes" not in plain["distiller"]:
        raise ConfigError("study.match_bytes needs a distiller with a budget_bytes key; "
                          f"distiller={cfg.distiller.name} has none")
    # DISTILLER:GPC: that distiller's own set at gpc, never one drawn to another's bytes
    source = ({"distiller": name, "distiller.gpc": gpc, "distiller.budget_bytes": ""} if sep
              else {"arm": name})
    what = f"distiller {name} at gpc {gpc}" if sep else f"arm {name}"
    path = Path(cfg.results_dir) / "runs.csv"
    dataset = {k: csv_text(v) for k, v in flatten(plain["dataset"], "dataset").items()}
    where = {**source, "dataset": cfg.dataset.name, "model": cfg.model.name,
             "distill_seed": str(cfg.distill_seed), **dataset}
    sizes = set_bytes(path, where, unset_matches=dataset)  # rows older than a dataset column
    if not sizes:
        raise ConfigError(f"study.match_bytes={spec}: {path} has no ok row of {what} on "
                          f"{cfg.dataset.name} with model {cfg.model.name}; run that arm first "
                          "(a study lists the arms it matches before the matched arms)")
    plain["distiller"]["budget_bytes"] = int(median(sizes))
