"""Checks a run makes before it loads any data or writes any row; each error names the key or
file and what would be valid (:class:`~mirage.errors.ConfigError`,
:class:`~mirage.errors.DataError`). The keys themselves are checked by :mod:`mirage.schema`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from mirage.data import FeatureSpec, checked_source, resolve_data_root
from mirage.distill.base import build_distiller
from mirage.errors import ConfigError
from mirage.models import build_model
from mirage.schema import check_keys
from mirage.study import PER_SEED, skipped_by
from mirage.sweep import show_progress
from mirage.tracking import check_credentials


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
    if not isinstance(cfg.num_threads, int) or cfg.num_threads < 1:
        raise ConfigError(f"num_threads must be an integer >= 1, got {cfg.num_threads!r}")
    if cfg.distill_seed != PER_SEED and (not isinstance(cfg.distill_seed, int)
                                         or cfg.distill_seed < 0):
        raise ConfigError(f"distill_seed must be an integer >= 0 or {PER_SEED}, got "
                          f"{cfg.distill_seed!r}")
    if cfg.dataset.metric not in ("auc", "acc"):
        raise ConfigError(f"dataset.metric={cfg.dataset.metric!r} is not one of ['acc', 'auc']")
    study = cfg.study
    if not OmegaConf.is_dict(study.arm_seeds):
        raise ConfigError(f"study.arm_seeds must map arm names to seed lists, got "
                          f"{study.arm_seeds!r}")
    for key in ("skip", "reuse"):
        if not OmegaConf.is_list(study[key]) or not all(isinstance(v, str) for v in study[key]):
            raise ConfigError(f"study.{key} must be a list of strings, got {study[key]!r}")
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
