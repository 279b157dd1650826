"""One run: load -> distill (cached) -> train / evaluate per seed -> record rows.

The only module, with ``run.py``, that knows about Hydra configs and W&B; algorithms receive
plain keyword arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import subprocess
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from statistics import mean, median, pstdev
from typing import Any

import torch
import torch_geometric
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf
from tqdm.auto import tqdm

from mirage.data import (
    FeatureSpec,
    GraphDataset,
    checked_source,
    load_dataset,
    resolve_data_root,
    write_split,
)
from mirage.distill.base import DistillContext, DistilledSet, build_distiller, nbytes
from mirage.errors import ConfigError, InfeasibleError, MeasurementError
from mirage.models import build_model
from mirage.records import (
    Row,
    adopt_rows,
    append_rows,
    completed_seeds,
    csv_text,
    flatten,
    measured,
    row_dict,
    set_bytes,
)
from mirage.schema import check_keys
from mirage.sweep import show_progress
from mirage.tracking import WandbTracker, check_credentials
from mirage.train import fit

log = logging.getLogger("mirage")

# Bump when a change to distillation code must invalidate cached artifacts.
ARTIFACT_VERSION = 2  # 2: one self-contained .pt per set


@dataclass
class Distilled:
    """A distilled set and how it was obtained."""

    data: DistilledSet
    seconds: float
    cache_hit: bool
    key: str


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def git_sha() -> str:
    """The checkout's short commit, with ``+dirty`` when tracked files other than ``results/``
    and Markdown differ from it (then the commit alone does not say which code made a row);
    empty outside a git checkout."""
    here = Path(__file__).parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=here, timeout=5).stdout.strip()
        # Committed results and prose are not code: rows appended to a tracked runs.csv must
        # not mark the next row dirty.
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                  ":/", ":(exclude,top)results", ":(exclude,top,glob)**/*.md"],
                                 capture_output=True, text=True, cwd=here, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}+dirty" if sha and changed.strip() else sha


def stable_hash(obj: Any) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# Distiller keys added after rows were written, with the value that does what the code did
# before them: at that value a key is left out of config hashes and cache keys, so earlier rows
# and artifacts still match (resume and the cache survive the addition). Its CSV column stays.
ADDED_LATER: dict[str, Any] = {"budget_bytes": None, "cont_bins": None, "coverage": None,
                               "readout_weight": 0.0}


def settings(distiller_cfg: dict[str, Any]) -> dict[str, Any]:
    """A distiller node without ``_target_``: where the class lives is not a setting, so moving
    it changes no row, hash or cache key."""
    return {k: v for k, v in distiller_cfg.items() if k != "_target_"}


def identity(distiller_cfg: dict[str, Any]) -> dict[str, Any]:
    """:func:`settings` less the :data:`ADDED_LATER` keys at their neutral values: what config
    hashes and cache keys see."""
    return {k: v for k, v in settings(distiller_cfg).items()
            if not (k in ADDED_LATER and v == ADDED_LATER[k])}


def artifact_key(dataset_cfg: dict, split_hash: str, distiller_cfg: dict, seed: int,
                 model_cfg: dict | None = None) -> str:
    """Cache key of a distilled set: everything that can change it, nothing that cannot.
    ``model_cfg`` only for a distiller whose set depends on the evaluation GNN (herding)."""
    parts = {"dataset": dataset_cfg, "split": split_hash, "distiller": identity(distiller_cfg),
             "seed": seed, "version": ARTIFACT_VERSION}
    if model_cfg is not None:
        parts["model"] = model_cfg
    return stable_hash(parts)


def distill_cached(data: GraphDataset, distiller_cfg: dict, seed: int, dataset_cfg: dict,
                   cache_dir: Path, ctx: DistillContext | None = None) -> Distilled:
    """Distil ``data.train``, or load the artifact a previous run stored under the same key."""
    ctx = ctx or DistillContext()
    distiller = build_distiller(distiller_cfg)  # checks the settings even on a cache hit
    model_cfg = dict(ctx.model or {}) if distiller.uses_model else None
    if distiller.uses_model and not model_cfg:
        raise ConfigError(f"distiller '{distiller_cfg['name']}' trains the evaluation GNN, but "
                          "no model config was given")
    key = artifact_key(dataset_cfg, data.split_hash, distiller_cfg, seed, model_cfg)
    path = cache_dir / "distilled" / f"{distiller_cfg['name']}-{key}.pt"
    if path.exists():
        ds = DistilledSet.load(path)
        return Distilled(ds, float(ds.meta["distill_time_s"]), True, key)
    t0 = time.perf_counter()
    ds = distiller.distill(data.train_split(), seed, ctx)
    seconds = time.perf_counter() - t0
    ds.meta["distill_time_s"] = seconds
    ds.meta["git_sha"] = git_sha()  # which code made it: a later cache hit reuses this set
    ds.save(path)
    return Distilled(ds, seconds, False, key)


def record_split(data: GraphDataset, results_dir: Path) -> Path:
    """Write the split a run measures on to ``<results_dir>/splits/<dataset>-<split_hash>.json``
    (indices into the dataset's original graph order), so any number can be traced to its graphs.
    """
    path = results_dir / "splits" / f"{data.name}-{data.split_hash}.json"
    if not path.exists():
        write_split(data.info["split"], path)
    return path


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"device={name!r} is not valid: use auto, cpu, cuda or cuda:N") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name!r} but CUDA is not available: use device=auto or cpu")
    return device


def validate(cfg: DictConfig) -> dict[str, Any]:
    """Checks that need no data; each error names the key and what is valid. Returns the
    resolved config as plain containers."""
    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"{err.full_key} has no value (??? in its config): set it, e.g. "
                          "dataset=tu dataset.name=PROTEINS") from err
    check_keys(plain)
    seeds = cfg.seeds
    if not OmegaConf.is_list(seeds) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise ConfigError(f"seeds must be a non-empty list of integers, got {seeds}")
    for key in ("epochs", "batch_size", "eval_batch_size"):
        if not isinstance(cfg.train[key], int) or cfg.train[key] <= 0:
            raise ConfigError(f"train.{key} must be a positive integer, got {cfg.train[key]!r}")
    for key in ("train.eval_at_init", "force", "logger.wandb.silent"):
        if not isinstance(OmegaConf.select(cfg, key), bool):
            raise ConfigError(f"{key} must be true or false, got {OmegaConf.select(cfg, key)!r}")
    if cfg.train.lr <= 0 or cfg.train.weight_decay < 0:
        raise ConfigError("train.lr must be > 0 and train.weight_decay >= 0")
    for key, least in (("num_threads", 1), ("distill_seed", 0)):
        if not isinstance(cfg[key], int) or cfg[key] < least:
            raise ConfigError(f"{key} must be an integer >= {least}, got {cfg[key]!r}")
    if cfg.dataset.metric not in ("auc", "acc"):
        raise ConfigError(f"dataset.metric={cfg.dataset.metric!r} is not one of ['acc', 'auc']")
    if not OmegaConf.is_dict(cfg.arm_seeds):
        raise ConfigError(f"arm_seeds must map arm names to seed lists, got {cfg.arm_seeds!r}")
    for key in ("skip", "reuse"):
        if not OmegaConf.is_list(cfg[key]) or not all(isinstance(v, str) for v in cfg[key]):
            raise ConfigError(f"{key} must be a list of strings, got {cfg[key]!r}")
    if cfg.logger.wandb.mode not in ("disabled", "offline", "online"):
        raise ConfigError(f"logger.wandb.mode={cfg.logger.wandb.mode!r} is not one of "
                          "['disabled', 'offline', 'online'] (with logger=wandb it follows "
                          "$WANDB_MODE)")
    return plain


def check_inputs(cfg: DictConfig, plain: dict[str, Any]) -> None:
    """What :func:`validate` cannot see in the config alone, still before any data is loaded or
    row written: the distiller's and the GNN's own checks (their constructors; the GNN on a
    stand-in feature layout, as the real one comes with the data), the device, the logger's
    credentials, and the dataset's files (:func:`~mirage.data.checked_source`)."""
    build_distiller(plain["distiller"])
    build_model(cfg.model, FeatureSpec((2,)), num_classes=2)
    resolve_device(cfg.device)
    check_credentials(plain["logger"]["wandb"])
    checked_source(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir),
                   show_progress(cfg.progress))


def check_job(cfg: DictConfig) -> None:
    """The input checks :func:`run` makes before it writes anything (a job left out by ``skip``
    needs its config only): a sweep makes them for every job before the first one runs."""
    plain = validate(cfg)
    if not skipped_by(cfg):
        check_inputs(cfg, plain)


def job_seeds(cfg: DictConfig) -> list[int]:
    """The job's evaluation seeds: its arm's own (``arm_seeds``), else ``seeds``."""
    return list(cfg.arm_seeds.get(cfg.arm, cfg.seeds) if cfg.arm else cfg.seeds)


@dataclass
class Job:
    """What the rows of one (dataset, distiller, model) job share."""

    name: str
    base: dict[str, Any]  # Row fields common to every seed
    hparams: dict[str, Any]  # the flattened configuration, one CSV column each
    csv_path: Path

    @classmethod
    def of(cls, cfg: DictConfig, plain: dict[str, Any]) -> Job:
        parts = {"dataset": plain["dataset"], "distiller": settings(plain["distiller"]),
                 "model": plain["model"], "train": plain["train"]}
        hparams = {k: v for part, node in parts.items() for k, v in flatten(node, part).items()}
        parts["distiller"] = identity(plain["distiller"])
        if cfg.match_bytes is not None:  # two baselines of equal bytes are two arms still
            parts["match_bytes"] = cfg.match_bytes
        base = {
            "dataset": cfg.dataset.name, "distiller": cfg.distiller.name, "model": cfg.model.name,
            "distill_seed": cfg.distill_seed,
            "config_hash": stable_hash(parts),
            "git_sha": git_sha(), "torch_version": torch.__version__,
            "pyg_version": torch_geometric.__version__, "arm": cfg.arm or "",
        }
        name = f"{cfg.dataset.name}-{cfg.distiller.name}-{cfg.model.name}"
        return cls(name, base, hparams, Path(cfg.results_dir) / "runs.csv")

    def row(self, **fields: Any) -> dict[str, Any]:
        return row_dict(Row(**self.base, **fields, peak_rss_mb=peak_rss_mb(), timestamp=_now()),
                        self.hparams)

    def record_unmeasured(self, seeds: list[int], status: str, err: BaseException) -> None:
        """Append a ``status`` row carrying ``err`` for each of ``seeds``."""
        append_rows(self.csv_path, [self.row(seed=seed, status=status, error=_one_line(err))
                                    for seed in seeds])


def pending_seeds(cfg: DictConfig, job: Job, seeds: list[int]) -> list[int]:
    """Resume: the ``seeds`` without an ``ok`` or ``infeasible`` row of this configuration in
    the target CSV, after copying such rows from ``cfg.reuse`` (all seeds with ``force=true``).
    Failed seeds are retried."""
    if cfg.force:
        return list(seeds)
    done = completed_seeds(job.csv_path, job.base["config_hash"], cfg.distill_seed)
    missing = [s for s in seeds if s not in done]
    sources = [Path(p) for p in cfg.reuse if Path(p).resolve() != job.csv_path.resolve()]
    if missing and sources:
        adopted = adopt_rows(sources, job.csv_path, job.base["config_hash"], cfg.distill_seed,
                             missing, job.base["arm"])
        if adopted:
            log.info("%s: seeds %s reused from %s", job.name, sorted(adopted), list(cfg.reuse))
        done |= adopted
    return [s for s in seeds if s not in done]


def cell(cfg: DictConfig) -> str:
    """``<dataset>/<arm or distiller>/<model>``: what ``skip`` patterns match."""
    return f"{cfg.dataset.name}/{cfg.arm or cfg.distiller.name}/{cfg.model.name}"


def skipped_by(cfg: DictConfig) -> str | None:
    """The first ``skip`` pattern that matches this job's :func:`cell`, if any."""
    return next((p for p in cfg.skip if fnmatchcase(cell(cfg), p)), None)


def match_budget(cfg: DictConfig, plain: dict[str, Any]) -> None:
    """``match_bytes=DISTILLER:GPC``: set ``plain``'s ``distiller.budget_bytes`` to the bytes of
    that distiller's set at ``gpc`` on this dataset (same dataset settings, model and distill
    seed), read from its ``ok`` rows in ``<results_dir>/runs.csv``."""
    spec = cfg.match_bytes
    if spec is None:
        return
    name, sep, gpc = str(spec).partition(":")
    if not sep or not gpc.isdigit():
        raise ConfigError(f"match_bytes={spec!r}: expected DISTILLER:GPC, e.g. doscond:1")
    if "budget_bytes" not in plain["distiller"]:
        raise ConfigError(f"match_bytes needs a distiller with budget_bytes (mirage, random); "
                          f"distiller={cfg.distiller.name} has none")
    path = Path(cfg.results_dir) / "runs.csv"
    where = {"distiller": name, "distiller.gpc": gpc, "model": cfg.model.name,
             "distill_seed": str(cfg.distill_seed),
             **{k: csv_text(v) for k, v in flatten(plain["dataset"], "dataset").items()}}
    sizes = set_bytes(path, where)
    if not sizes:
        raise ConfigError(f"match_bytes={spec}: {path} has no ok row of distiller {name} at "
                          f"gpc {gpc} on {cfg.dataset.name} with model {cfg.model.name}; run "
                          "that arm first (a study lists its baselines before the matched arms)")
    plain["distiller"]["budget_bytes"] = int(median(sizes))


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


def train_seed(cfg: DictConfig, job: Job, data: GraphDataset, ds: DistilledSet,
               sizes: dict[str, Any], seed: int, tracker: WandbTracker) -> dict[str, Any]:
    """Train one fresh model on ``ds``, evaluate on the real graphs, append and return its row."""
    torch.manual_seed(seed)
    device = torch.device(job.base["device"])
    model = build_model(cfg.model, data.features, data.num_classes).to(device)
    with tracker.seed_run(seed) as (log_epoch, set_summary):
        result = fit(model, ds, data.val, data.test, epochs=cfg.train.epochs,
                     batch_size=cfg.train.batch_size, lr=cfg.train.lr,
                     weight_decay=cfg.train.weight_decay,
                     eval_batch_size=cfg.train.eval_batch_size, select_on=cfg.dataset.metric,
                     seed=seed, device=device, eval_at_init=cfg.train.eval_at_init,
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


def log_summary(cfg: DictConfig, job: Job, seeds: list[int]) -> None:
    """One line per job: mean +- std (ddof 0, as the tables) over the ``ok`` rows of its seeds,
    measured now or earlier, selection metric first."""
    rows = {seed: row for seed, row in measured(job.csv_path, job.base["config_hash"],
                                                cfg.distill_seed, ("ok",)) if seed in seeds}
    if not rows:
        return
    metric = cfg.dataset.metric
    parts = []
    for key in (f"test_{metric}", "test_acc_cal", "test_acc"):
        values = [float(row[key]) for row in rows.values()]
        parts.append(f"{key} {mean(values):.4f} +- {pstdev(values):.4f}")
    log.info("%s: %s over %d seeds %s", job.name, ", ".join(parts), len(rows), sorted(rows))


def run(cfg: DictConfig) -> list[dict[str, Any]]:
    """Execute one (dataset, distiller, model) job; return the rows it appended.

    1. Check the input (:func:`validate`, then :func:`check_inputs` unless a ``skip`` pattern
       leaves the job out): a :class:`~mirage.errors.ConfigError` or
       :class:`~mirage.errors.DataError` here writes no row.
    2. Plan: the job's seeds (:func:`job_seeds`) less those with an ``ok`` or ``infeasible`` row,
       here or in a ``reuse`` file (:func:`pending_seeds`); none left, nothing is loaded.
    3. Prepare the data and the distilled set, train and evaluate each seed, a row each.
       Settings the data cannot satisfy (:class:`~mirage.errors.InfeasibleError`) write
       ``status='infeasible'`` rows. Any other failure from here on (a ``match_bytes`` baseline
       not measured yet included) writes a ``status='failed'`` row for every seed it left
       unmeasured and raises :class:`~mirage.errors.MeasurementError`.
    """
    plain = validate(cfg)
    if pattern := skipped_by(cfg):
        log.info("%s: left out by skip pattern %r", cell(cfg), pattern)
        return []
    check_inputs(cfg, plain)
    seeds = job_seeds(cfg)
    try:
        match_budget(cfg, plain)
    except ConfigError as err:
        Job.of(cfg, plain).record_unmeasured(seeds, "failed", err)
        raise MeasurementError(_one_line(err)) from err
    job = Job.of(cfg, plain)
    pending = pending_seeds(cfg, job, seeds)
    if not pending:
        log.info("%s: every seed of %s already has an ok (or infeasible) row in %s; nothing to do "
                 "(force=true reruns)", job.name, seeds, job.csv_path)
        log_summary(cfg, job, seeds)
        return []
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
        return []
    except Exception as err:
        job.record_unmeasured(pending[len(rows):], "failed", err)
        log.debug("run failed:\n%s", traceback.format_exc())
        raise MeasurementError(_one_line(err)) from err
    log.info("%d rows appended to %s", len(rows), os.path.abspath(job.csv_path))
    log_summary(cfg, job, seeds)
    return rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:500]
