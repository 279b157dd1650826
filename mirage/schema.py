"""The keys a run reads, so that a key nothing reads is refused instead of silently ignored.

Hydra accepts ``+train.epoch=5`` (its own error hint suggests the ``+``) and the run would go on
with the default epochs. :func:`check_keys` compares the composed config with the schema below
and raises a :class:`ConfigError` that names the unknown key and the valid ones. The schema is
the code that reads each node: the dataclasses here for the fixed nodes, the constructor
signature for ``model`` (:class:`~mirage.models.GNN`) and ``distiller`` (its registered class),
so a new hyperparameter needs no second declaration. Value and range checks stay with the code
that uses each value.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, get_type_hints

from mirage.errors import ConfigError


@dataclass
class Split:
    seed: Any
    test: Any
    val: Any
    file: Any


@dataclass
class TUDatasetSchema:
    loader: Any
    name: Any
    use_node_attr: Any
    degree_features: Any
    max_degree: Any
    metric: Any
    keep_node_labels: Any
    split: Split


@dataclass
class OGBDatasetSchema:
    loader: Any
    name: Any
    metric: Any


@dataclass
class SyntheticDatasetSchema:
    loader: Any
    name: Any
    num_graphs: Any
    num_nodes: Any
    num_labels: Any
    seed: Any
    metric: Any
    split: Split


DATASETS = {"tu": TUDatasetSchema, "ogb": OGBDatasetSchema, "synthetic": SyntheticDatasetSchema}


@dataclass
class Train:
    epochs: Any
    batch_size: Any
    lr: Any
    weight_decay: Any
    eval_batch_size: Any
    eval_at_init: Any


@dataclass
class Wandb:
    mode: Any
    project: Any
    entity: Any
    group: Any
    job_type: Any
    tags: Any
    dir: Any
    silent: Any


@dataclass
class Logger:
    wandb: Wandb


@dataclass
class Study:
    arm: Any
    label: Any
    color: Any
    versus: Any
    arm_seeds: Any
    match_bytes: Any
    skip: Any
    reuse: Any


@dataclass
class Root:
    seeds: Any
    distill_seed: Any
    results_dir: Any
    data_root: Any
    cache_dir: Any
    device: Any
    num_threads: Any
    progress: Any
    force: Any
    study: Study
    train: Train
    logger: Logger
    dataset: Any
    model: Any
    distiller: Any


def _keys_of(target: type | Callable[..., Any], skip: tuple[str, ...] = ()) -> list[str]:
    """The keyword parameters of a constructor, plus ``name`` (the option's own label)."""
    params = inspect.signature(target).parameters
    return ["name", *(p for p in params if p not in skip and p != "self")]


def _check(node: Mapping[str, Any], valid: list[str], path: str) -> None:
    unknown = [k for k in node if k not in valid]
    if unknown:
        where = f"{path}." if path else ""
        raise ConfigError(f"unknown key {where}{unknown[0]}: nothing reads it (valid keys of "
                          f"{path or 'the top level'}: {sorted(valid)}); check its spelling, "
                          "and drop a leading '+' that Hydra may have suggested")


def _check_dataclass(node: Mapping[str, Any], schema: type, path: str) -> None:
    _check(node, [f.name for f in fields(schema)], path)
    for key, kind in get_type_hints(schema).items():
        if is_dataclass(kind) and isinstance(node.get(key), Mapping):
            _check_dataclass(node[key], kind, f"{path}.{key}" if path else key)


def check_keys(cfg: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first key of ``cfg`` (a plain, resolved config) that no
    code reads; ``hydra`` is Hydra's own."""
    from mirage.distill.base import distiller_class
    from mirage.models import GNN

    _check_dataclass({k: v for k, v in cfg.items() if k != "hydra"}, Root, "")
    loader = cfg["dataset"].get("loader")
    if loader not in DATASETS:
        raise ConfigError(f"dataset.loader={loader!r} is not one of {sorted(DATASETS)}")
    _check_dataclass(cfg["dataset"], DATASETS[loader], "dataset")
    _check(cfg["model"], _keys_of(GNN, skip=("features", "num_classes")), "model")
    distiller = cfg["distiller"]
    if "_target_" not in distiller:
        raise ConfigError(f"distiller '{distiller.get('name')}' has no _target_ (the Distiller "
                          "class to instantiate, e.g. baselines.coresets.Random)")
    _check(distiller, [*_keys_of(distiller_class(distiller["_target_"])), "_target_"],
           "distiller")

