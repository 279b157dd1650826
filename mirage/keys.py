"""What identifies a configuration: the config hash of its rows and the cache key of its
distilled set, and how both stay stable when a distiller gains a key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

# Bump when a change to distillation code must invalidate cached artifacts.
ARTIFACT_VERSION = 2  # 2: one self-contained .pt per set


def stable_hash(obj: Any) -> str:
    """Short sha256 of a JSON-serialisable object with sorted keys."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# Distiller keys added after rows were written, with the value that does what the code did
# before them: at that value a key is left out of config hashes and cache keys, so earlier rows
# and artifacts still match (resume and the cache survive the addition). Its CSV column stays.
ADDED_LATER: dict[str, Any] = {"budget_bytes": None, "cont_bins": None, "coverage": None,
                               "readout_weight": 0.0, "root_weight": None,
                               "sample": "trees", "budget_split": "support",
                               "real_share": 0.0, "real_sample": "graph", "rank": "support",
                               "fill": "prefix", "frozen_norm": False,
                               "norm_stats": "init", "background": False,
                               "background_group": 1, "contrast_z": None,
                               "contrast_fdr": None, "tree_balance": False,
                               "real_draw": "uniform"}


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


def config_hash(plain: dict[str, Any], match_bytes: str | None = None) -> str:
    """The hash every row of a configuration carries (resume and reuse match on it): dataset,
    distiller (:func:`identity`), model and training settings, and the byte-matching spec of a
    matched arm (two sets of equal bytes are two arms still)."""
    parts = {"dataset": plain["dataset"], "distiller": identity(plain["distiller"]),
             "model": plain["model"], "train": plain["train"]}
    if match_bytes is not None:
        parts["match_bytes"] = match_bytes
    return stable_hash(parts)
