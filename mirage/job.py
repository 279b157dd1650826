"""A job: one (dataset, distiller, model) configuration and the rows it writes, one per seed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch_geometric
from omegaconf import DictConfig

from mirage.data import GraphDataset, write_split
from mirage.keys import config_hash, settings
from mirage.provenance import git_sha, now, one_line, peak_rss_mb
from mirage.records import Row, append_rows, flatten, row_dict


@dataclass
class Job:
    """What the rows of one (dataset, distiller, model) job share."""

    name: str
    base: dict[str, Any]  # Row fields common to every seed
    hparams: dict[str, Any]  # the flattened configuration, one CSV column each
    csv_path: Path

    @classmethod
    def of(cls, cfg: DictConfig, plain: dict[str, Any]) -> Job:
        """The job of a validated config; ``plain`` is its resolved form (a matched arm's byte
        budget already filled in)."""
        parts = {"dataset": plain["dataset"], "distiller": settings(plain["distiller"]),
                 "model": plain["model"], "train": plain["train"]}
        hparams = {k: v for part, node in parts.items() for k, v in flatten(node, part).items()}
        base = {
            "dataset": cfg.dataset.name, "distiller": cfg.distiller.name, "model": cfg.model.name,
            "distill_seed": cfg.distill_seed,
            "config_hash": config_hash(plain, cfg.study.match_bytes),
            "git_sha": git_sha(), "torch_version": torch.__version__,
            "pyg_version": torch_geometric.__version__, "arm": cfg.study.arm or "",
        }
        name = f"{cfg.dataset.name}-{cfg.distiller.name}-{cfg.model.name}"
        return cls(name, base, hparams, Path(cfg.results_dir) / "runs.csv")

    def row(self, **fields: Any) -> dict[str, Any]:
        return row_dict(Row(**self.base, **fields, peak_rss_mb=peak_rss_mb(), timestamp=now()),
                        self.hparams)

    def record_unmeasured(self, seeds: list[int], status: str, err: BaseException) -> None:
        """Append a ``status`` row carrying ``err`` for each of ``seeds``."""
        append_rows(self.csv_path, [self.row(seed=seed, status=status, error=one_line(err))
                                    for seed in seeds])


def record_split(data: GraphDataset, results_dir: Path) -> Path:
    """Write the split a run measures on to ``<results_dir>/splits/<dataset>-<split_hash>.json``
    (indices into the dataset's original graph order), so any number can be traced to its graphs.
    """
    path = results_dir / "splits" / f"{data.name}-{data.split_hash}.json"
    if not path.exists():
        write_split(data.info["split"], path)
    return path
