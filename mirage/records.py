"""The one result-record schema, its CSV sink and its Weights & Biases mirror.

Every run writes one :class:`Row` per evaluation seed, failed runs included (``status='failed'``
with the error). The CSV header is the dataclass's fields followed by the flattened configuration
(``dataset.*``, ``distiller.*``, ``model.*``, ``train.*``); appends hold an exclusive file lock, so
the processes of a parallel sweep never interleave or lose rows.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from filelock import FileLock


@dataclass
class Row:
    """One evaluation seed of one (dataset, distiller, model) run."""

    dataset: str
    distiller: str
    model: str
    seed: int | None = None
    status: str = "ok"
    error: str = ""
    val_acc: float | None = None
    test_acc: float | None = None
    val_acc_cal: float | None = None
    test_acc_cal: float | None = None
    val_auc: float | None = None
    test_auc: float | None = None
    test_f1: float | None = None
    best_epoch: int | None = None
    distill_time_s: float | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    distilled_graphs: int | None = None
    distilled_nodes: int | None = None
    distilled_edges: int | None = None
    distilled_bytes: int | None = None
    full_bytes: int | None = None
    compression_ratio: float | None = None
    peak_rss_mb: float | None = None
    cache_hit: bool | None = None
    config_hash: str = ""
    split_hash: str = ""
    git_sha: str = ""
    torch_version: str = ""
    pyg_version: str = ""
    device: str = ""
    timestamp: str = ""


ROW_FIELDS = [f.name for f in fields(Row)]


def flatten(cfg: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``{'a': {'b': 1}}`` -> ``{'<prefix>.a.b': 1}``; lists and maps become compact strings."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            out[name] = value if not isinstance(value, list | tuple) else str(list(value))
    return out


def append_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Append ``rows`` to the CSV at ``path`` under an exclusive lock.

    New hyperparameter columns are supported: when a row brings a key the header lacks, the file
    is rewritten with the union header (atomically: temp file + rename, under the same lock).
    """
    rows = [dict(r) for r in rows]
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        header: list[str] = []
        if path.exists() and path.stat().st_size > 0:
            with path.open(newline="") as f:
                header = next(csv.reader(f), [])
        # Keys the header lacks (a new hyperparameter, or a schema field added since the file
        # was started) extend it; old rows read them as blank.
        base = header or ROW_FIELDS
        extra = [k for k in ROW_FIELDS if k not in base]
        extra += sorted({k for r in rows for k in r} - set(base) - set(ROW_FIELDS))
        new_header = base + extra
        if header and new_header == header:
            _write(path, rows, header, mode="a")
            return
        old = read_rows(path) if header else []
        tmp = path.with_name(path.name + ".tmp")
        _write(tmp, old + rows, new_header, mode="w", with_header=True)
        os.replace(tmp, path)


def _write(path: Path, rows: list[dict[str, Any]], header: list[str], mode: str,
           with_header: bool = False) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, extrasaction="raise", lineterminator="\n")
    if with_header:
        writer.writeheader()
    writer.writerows(rows)
    with path.open(mode, newline="") as f:
        f.write(buf.getvalue())  # one write call per append
        f.flush()
        os.fsync(f.fileno())


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a results CSV as dicts (strings), ``[]`` when the file does not exist."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


class WandbSink:
    """Mirrors rows to one W&B run per (dataset, distiller, model) job; a no-op when disabled."""

    def __init__(self, cfg: Mapping[str, Any], config: dict[str, Any], name: str) -> None:
        self.run = None
        if cfg["mode"] == "disabled":
            return
        import wandb

        Path(cfg["dir"]).mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=cfg["project"], entity=cfg.get("entity"), mode=cfg["mode"],
                              group=cfg.get("group") or name, name=name, dir=cfg["dir"],
                              config=config, reinit="finish_previous")

    def log(self, row: Mapping[str, Any], history: list[dict[str, float]] | None = None) -> None:
        if self.run is None:
            return
        for h in history or []:
            self.run.log({f"seed{row['seed']}/{k}": v for k, v in h.items()})
        self.run.log({k: v for k, v in row.items() if isinstance(v, int | float)
                      and not isinstance(v, bool)})

    def finish(self, failed: bool = False) -> None:
        if self.run is not None:
            self.run.finish(exit_code=1 if failed else 0)
            self.run = None


def row_dict(row: Row, hparams: dict[str, Any]) -> dict[str, Any]:
    """A :class:`Row` plus its flattened hyperparameters, ready for :func:`append_rows`."""
    return {**asdict(row), **hparams}
