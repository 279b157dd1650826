"""One run: validate -> plan -> prepare (load, distil or hit the cache) -> train and evaluate
each seed, a row each; with ``distill_seed=per_seed`` the plan and the set are made per seed.

With ``run.py`` the only module that turns a Hydra config into work; algorithms receive plain
keyword arguments. The pieces: :mod:`mirage.validation` (input checks),
:mod:`mirage.study` (arm seeds, draws, skip, reuse, byte matching), :mod:`mirage.job` (rows),
:mod:`mirage.artifacts` (the distilled-set cache), :mod:`mirage.train` (the one training loop).
"""

from __future__ import annotations

import copy
import logging
import os
import traceback
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm.auto import tqdm

from mirage.artifacts import distill_cached
from mirage.data import GraphDataset, load_dataset, resolve_data_root
from mirage.distill.base import DistillContext, DistilledSet, nbytes
from mirage.errors import ConfigError, InfeasibleError, MeasurementError
from mirage.job import Job, record_split
from mirage.models import build_model
from mirage.provenance import one_line
from mirage.records import append_rows, measured
from mirage.study import cell, job_seeds, match_budget, pending_seeds, seed_draws, skipped_by
from mirage.sweep import show_progress
from mirage.tracking import WandbTracker
from mirage.train import FitResult, fit
from mirage.validation import check_inputs, resolve_device, validate

log = logging.getLogger("mirage")


def prepare(cfg: DictConfig, plain: dict[str, Any], job: Job,
            tracker: WandbTracker) -> tuple[GraphDataset, DistilledSet, dict[str, Any]]:
    """Load the data and distil it (or hit the cache); returns the data, the set and the size
    fields of every row. A learned distiller's loss curve goes to the log and to W&B."""
    torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    job.base["device"] = str(device)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir),
                        show_progress(cfg.progress))
    job.base["split_hash"] = data.split_hash
    record_split(data, Path(cfg.results_dir))
    curve: list[dict[str, float]] = []

    def log_curve(entry: dict[str, float]) -> None:
        curve.append(entry)
        log.info("%s distill: %s", job.name, ", ".join(f"{k} {v:.4g}" for k, v in entry.items()))

    ctx = DistillContext(device, show_progress(cfg.progress), log_curve, plain["model"])
    distilled = distill_cached(data, plain["distiller"], cfg.distill_seed, plain["dataset"],
                               Path(cfg.cache_dir), ctx)
    tracker.log_curve(f"{job.name}-distill", "distill", curve)
    full_bytes, ds = nbytes(data.train), distilled.data
    distilled_bytes = ds.nbytes()
    sizes = {
        "distill_time_s": distilled.seconds, "cache_hit": distilled.cache_hit,
        "distilled_graphs": ds.num_graphs, "distilled_nodes": ds.num_nodes,
        "distilled_edges": ds.num_edges, "distilled_bytes": distilled_bytes,
        "full_bytes": full_bytes, "compression_ratio": full_bytes / max(distilled_bytes, 1),
    }
    log.info("%s: %d distilled graphs, %d bytes (%.1fx), %.2fs%s", job.name, ds.num_graphs,
             distilled_bytes, sizes["compression_ratio"], distilled.seconds,
             " (cache hit)" if distilled.cache_hit else "")
    return data, ds, sizes


def fresh_model(cfg: DictConfig, data: GraphDataset, seed: int,
                device: torch.device) -> torch.nn.Module:
    """A new ``cfg.model`` for ``data`` on ``device``, its initial weights drawn from ``seed``
    (the model :func:`train_seed` trains for that seed)."""
    torch.manual_seed(seed)
    return build_model(cfg.model, data.features, data.num_classes).to(device)


def fit_seed(cfg: DictConfig, model: torch.nn.Module, data: GraphDataset, ds: DistilledSet,
             seed: int, device: torch.device, **kwargs: Any) -> FitResult:
    """:func:`~mirage.train.fit` of ``model`` on ``ds`` with seed ``seed`` under ``cfg``'s
    training settings, selected on ``cfg.dataset.metric`` (``kwargs``: ``progress``,
    ``on_epoch``)."""
    return fit(model, ds, data.val, data.test, epochs=cfg.train.epochs,
               batch_size=cfg.train.batch_size, lr=cfg.train.lr,
               weight_decay=cfg.train.weight_decay, eval_batch_size=cfg.train.eval_batch_size,
               select_on=cfg.dataset.metric, seed=seed, device=device,
               eval_at_init=cfg.train.eval_at_init, **kwargs)


def train_seed(cfg: DictConfig, job: Job, data: GraphDataset, ds: DistilledSet,
               sizes: dict[str, Any], seed: int, tracker: WandbTracker) -> dict[str, Any]:
    """Train one fresh model on ``ds``, evaluate on the real graphs, append and return its row."""
    device = torch.device(job.base["device"])
    model = fresh_model(cfg, data, seed, device)
    with tracker.seed_run(seed) as (log_epoch, set_summary):
        result = fit_seed(cfg, model, data, ds, seed, device,
                          progress=show_progress(cfg.progress), on_epoch=log_epoch)
        record = job.row(**sizes, seed=seed, status="ok",
                         val_acc=result.val["acc"], test_acc=result.test["acc"],
                         val_acc_cal=result.val["acc_cal"], test_acc_cal=result.test["acc_cal"],
                         val_auc=result.val["auc"], test_auc=result.test["auc"],
                         test_f1=result.test["f1"], best_epoch=result.best_epoch,
                         train_time_s=result.train_time_s, eval_time_s=result.eval_time_s)
        append_rows(job.csv_path, [record])  # row by row: a later failure loses nothing
        set_summary(record)
    metric = cfg.dataset.metric
    log.info("%s seed %d: test_%s %.4f (val_%s %.4f, epoch %d); test_acc_cal %.4f, test_acc %.4f",
             job.name, seed, metric, result.test[metric], metric, result.val[metric],
             result.best_epoch, result.test["acc_cal"], result.test["acc"])
    return record


def ok_rows(job: Job, seeds: list[int]) -> dict[int, dict[str, Any]]:
    """Seed -> the ``ok`` row of ``job`` (its configuration and distill seed) for ``seeds``,
    measured now or earlier."""
    return {seed: row for seed, row in measured(job.csv_path, job.base["config_hash"],
                                                job.base["distill_seed"], ("ok",))
            if seed in seeds}


def log_summary(cfg: DictConfig, name: str, rows: dict[int, dict[str, Any]]) -> None:
    """One line per job: mean +- std (ddof 0, as the tables) over its ``ok`` rows (seed ->
    row), selection metric first."""
    if not rows:
        return
    metric = cfg.dataset.metric
    parts = []
    for key in (f"test_{metric}", "test_acc_cal", "test_acc"):
        # rows written before a column existed leave it empty
        values = [float(row[key]) for row in rows.values() if row.get(key)]
        if values:
            parts.append(f"{key} {mean(values):.4f} +- {pstdev(values):.4f}")
    log.info("%s: %s over %d seeds %s", name, ", ".join(parts), len(rows), sorted(rows))


def run(cfg: DictConfig) -> list[dict[str, Any]]:
    """Execute one (dataset, distiller, model) job; return the rows it appended.

    1. Check the input (:func:`validate`, then :func:`check_inputs` unless a ``skip`` pattern
       leaves the job out): a :class:`~mirage.errors.ConfigError` or
       :class:`~mirage.errors.DataError` here writes no row.
    2. For each distilled set the job's seeds (:func:`job_seeds`) train on (one, or one per
       seed with ``distill_seed=per_seed``; :func:`seed_draws`), :func:`run_draw`. A draw that
       fails while measuring does not stop the others; the job then raises
       :class:`~mirage.errors.MeasurementError` (the first failure's message).
    """
    plain = validate(cfg)
    if pattern := skipped_by(cfg):
        log.info("%s: left out by skip pattern %r", cell(cfg), pattern)
        return []
    check_inputs(cfg, plain)
    seeds = job_seeds(cfg)
    rows: list[dict[str, Any]] = []
    done: dict[int, dict[str, Any]] = {}
    failures: list[MeasurementError] = []
    job: Job | None = None  # the last draw's that ran (draws differ only in distill_seed)
    for distill_seed, draw_seeds in seed_draws(cfg, seeds).items():
        draw_cfg, draw_plain = copy.deepcopy(cfg), copy.deepcopy(plain)
        draw_cfg.distill_seed = draw_plain["distill_seed"] = distill_seed  # W&B's config too
        try:
            job, new = run_draw(draw_cfg, draw_plain, draw_seeds)
        except MeasurementError as err:
            failures.append(err)
            continue
        rows += new
        done |= ok_rows(job, draw_seeds)
    if job is not None:
        if rows:
            log.info("%d rows appended to %s", len(rows), os.path.abspath(job.csv_path))
        log_summary(cfg, job.name, done)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise MeasurementError(f"{failures[0]} ({len(failures)} of the job's draws failed)"
                               ) from failures[0].__cause__
    return rows


def run_draw(cfg: DictConfig, plain: dict[str, Any],
             seeds: list[int]) -> tuple[Job, list[dict[str, Any]]]:
    """The job's ``seeds`` on the set of ``cfg.distill_seed``: its job and the rows it appended.

    1. Match the byte budget (``study.match_bytes``), then plan: the ``seeds`` less those with
       an ``ok`` or ``infeasible`` row, here or in a ``reuse`` file (:func:`pending_seeds`);
       none left, nothing is loaded.
    2. Prepare the data and the distilled set, train and evaluate each seed, a row each.
       Settings the data cannot satisfy (:class:`~mirage.errors.InfeasibleError`) write
       ``status='infeasible'`` rows. Any other failure from here on (a ``match_bytes`` baseline
       not measured yet included) writes a ``status='failed'`` row for every seed it left
       unmeasured and raises :class:`~mirage.errors.MeasurementError`.
    """
    try:
        match_budget(cfg, plain)
    except ConfigError as err:
        Job.of(cfg, plain).record_unmeasured(seeds, "failed", err)
        raise MeasurementError(one_line(err)) from err
    job = Job.of(cfg, plain)
    pending = pending_seeds(cfg, job, seeds)
    if not pending:
        log.info("%s: every seed of %s already has an ok (or infeasible) row in %s; nothing to do "
                 "(force=true reruns)", job.name, seeds, job.csv_path)
        return job, []
    rows: list[dict[str, Any]] = []
    tracker = WandbTracker(plain["logger"]["wandb"], plain, job.name)
    try:
        data, ds, sizes = prepare(cfg, plain, job, tracker)
        quiet = not show_progress(cfg.progress)
        for seed in tqdm(pending, desc=job.name, unit="seed", disable=quiet):
            rows.append(train_seed(cfg, job, data, ds, sizes, seed, tracker))
    except InfeasibleError as err:
        job.record_unmeasured(pending, "infeasible", err)
        log.warning("%s is infeasible, recorded as such (resume will not retry it): %s",
                    job.name, err)
        return job, []
    except Exception as err:
        job.record_unmeasured(pending[len(rows):], "failed", err)
        log.debug("run failed:\n%s", traceback.format_exc())
        raise MeasurementError(one_line(err)) from err
    return job, rows
