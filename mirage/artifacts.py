"""The artifact cache: a distilled set is made once per key and loaded by every later run."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from mirage.data import GraphDataset
from mirage.distill.base import DistillContext, DistilledSet, build_distiller
from mirage.errors import ConfigError
from mirage.keys import ARTIFACT_VERSION, artifact_key
from mirage.provenance import git_sha


@dataclass
class Distilled:
    """A distilled set and how it was obtained."""

    data: DistilledSet
    seconds: float
    cache_hit: bool
    key: str


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
    # Results shared between distillers (a target GNN) live beside the sets, for this data only.
    ctx = replace(ctx, store=cache_dir / "shared", reused_s=0.0,
                  scope={"dataset": dataset_cfg, "split": data.split_hash,
                         "version": ARTIFACT_VERSION})
    t0 = time.perf_counter()
    ds = distiller.distill(data.train_split(), seed, ctx)
    # A reused step counts at what it once cost: the time is the method's, not the cache's.
    seconds = time.perf_counter() - t0 + ctx.reused_s
    ds.meta["distill_time_s"] = seconds
    ds.meta["reused_s"] = ctx.reused_s
    ds.meta["git_sha"] = git_sha()  # which code made it: a later cache hit reuses this set
    ds.save(path)
    return Distilled(ds, seconds, False, key)
