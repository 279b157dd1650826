"""The one result-record schema, its CSV sink, and resume.

Every run writes one :class:`Row` per evaluation seed, failed runs included (``status='failed'``
with the error). The CSV header is the dataclass's fields followed by the flattened configuration
(``dataset.*``, ``distiller.*``, ``model.*``, ``train.*``); appends hold an exclusive file lock, so
the processes of a parallel sweep never interleave or lose rows.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    distill_seed: int | None = None
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
    arm: str = ""  # the study arm (conf/arm/) that asked for the run; a label, not a setting


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
            _terminate_last_line(path)
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


def _terminate_last_line(path: Path) -> None:
    """End a line cut short by a killed writer, so the next row starts on a line of its own."""
    with path.open("rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":
            f.write(b"\n")


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a results CSV as dicts (strings), ``[]`` when the file does not exist."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def row_dict(row: Row, hparams: dict[str, Any]) -> dict[str, Any]:
    """A :class:`Row` plus its flattened hyperparameters, ready for :func:`append_rows`."""
    return {**asdict(row), **hparams}


RUN_KEY = ("config_hash", "distill_seed", "seed")  # one measurement; a rerun repeats it


def run_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(config_hash, distill_seed, seed)`` as strings; rows written before ``distill_seed``
    was a column used the default, 0."""
    seed = str(row.get("seed") or "")
    return (str(row.get("config_hash") or ""), str(row.get("distill_seed") or 0),
            seed.removesuffix(".0"))


# Statuses that answer a (configuration, seed) for good: resume does not repeat them.
# ``infeasible``: the configuration cannot be run on this data (mirage.errors.InfeasibleError).
DONE = ("ok", "infeasible")
STATUS_RANK = {"ok": 2, "infeasible": 1}  # which row of a measurement counts; others rank 0


def current_positions(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Which rows count: the positions (in file order) of one row per measurement
    (:data:`RUN_KEY`), the newest (by ``timestamp``, then file order) of its best status
    (``ok``, then ``infeasible``, then any other). A rerun therefore replaces a failure, and a
    forced rerun the row before it. A row without a ``config_hash``, or garbled by a killed
    writer (a cell too many or too few), is a measurement of its own.

    The one rule for resume (:func:`completed_seeds`), reuse (:func:`adopt_rows`), byte
    matching (:func:`set_bytes`) and every report (:mod:`mirage.report.rows`)."""
    best: dict[tuple[str, ...], tuple[tuple[int, str, int], int]] = {}
    for i, row in enumerate(rows):
        whole = None not in row and None not in row.values()
        key = run_key(row) if whole and row.get("config_hash") else ("row", str(i), "")
        rank = (STATUS_RANK.get(str(row.get("status")), 0) if whole else -1,
                str(row.get("timestamp") or ""), i)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, i)
    return sorted(i for _, i in best.values())


def current_rows(path: Path) -> list[dict[str, str]]:
    """The rows of ``path`` that count (:func:`current_positions`)."""
    rows = read_rows(path)
    return [rows[i] for i in current_positions(rows)]


def measured(path: Path, config_hash: str, distill_seed: int,
             statuses: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(seed, row)`` for each current row of ``path`` of this configuration whose status is
    one of ``statuses`` (a line garbled by a killed writer never counts)."""
    statuses = tuple(statuses)
    for row in current_rows(path):
        key = run_key(row)
        whole = None not in row and None not in row.values()
        if (whole and row.get("status") in statuses and key[:2] == (config_hash, str(distill_seed))
                and key[2].lstrip("-").isdigit()):
            yield int(key[2]), row


def completed_seeds(path: Path, config_hash: str, distill_seed: int) -> set[int]:
    """The seeds that already have a :data:`DONE` row of this configuration in ``path``."""
    return {seed for seed, _ in measured(path, config_hash, distill_seed, DONE)}


def adopt_rows(sources: Iterable[Path], path: Path, config_hash: str, distill_seed: int,
               seeds: Iterable[int], arm: str = "") -> set[int]:
    """Copy into ``path`` the current ``ok`` row of this configuration for each of ``seeds``
    found in ``sources`` (other studies' CSVs; a later source wins), labelled with ``arm``;
    returns the seeds copied.

    The rows keep their measurements and provenance (``git_sha``, ``timestamp``): the same
    configuration hash means the same data, distiller, model and training settings.
    """
    wanted, found = set(seeds), {}
    for source in sources:
        for seed, row in measured(source, config_hash, distill_seed, ("ok",)):
            if seed in wanted:
                found[seed] = {**row, "arm": arm}
    append_rows(path, [found[s] for s in sorted(found)])
    return set(found)


def set_bytes(path: Path, where: Mapping[str, str], unset_matches: Iterable[str] = ()) -> list[int]:
    """``distilled_bytes`` of the current ``ok`` rows of ``path`` whose columns read as
    ``where`` says (values compared as the CSV writes them: ``None`` as ``''``; a row older than
    the ``distill_seed`` column reads as its default, as :func:`run_key` has it). A column of
    ``unset_matches`` that a row leaves empty (written before the column existed) matches."""
    lenient = set(unset_matches)

    def fits(row: Mapping[str, str], key: str, want: str) -> bool:
        have = run_key(row)[1] if key == "distill_seed" else row.get(key, "")
        return have == want or (key in lenient and have == "")

    return [int(float(row["distilled_bytes"])) for row in current_rows(path)
            if row.get("status") == "ok" and row.get("distilled_bytes")
            and all(fits(row, k, v) for k, v in where.items())]


def csv_text(value: Any) -> str:
    """A value as :func:`append_rows` writes it into a cell."""
    return "" if value is None else str(value)
