"""The CSV sink: schema, header growth and concurrent appends from several processes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

from mirage.records import (
    ROW_FIELDS,
    Row,
    append_rows,
    completed_seeds,
    flatten,
    read_rows,
    row_dict,
)


def _writer(path: str, worker: int, n: int) -> None:
    for i in range(n):
        row = row_dict(Row(dataset="d", distiller="x", model="m", seed=i, error=f"w{worker}"),
                       {"distiller.gpc": worker})
        append_rows(Path(path), [row])


def test_concurrent_writers_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = read_rows(path)
    assert len(rows) == 160
    for w in range(4):
        seeds = sorted(int(r["seed"]) for r in rows if r["error"] == f"w{w}")
        assert seeds == list(range(40))
    assert list(rows[0])[: len(ROW_FIELDS)] == ROW_FIELDS


def test_new_hyperparameter_columns_keep_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    append_rows(path, [row_dict(Row("d", "random", "gin", seed=0), {"distiller.gpc": 5})])
    append_rows(path, [row_dict(Row("d", "mirage", "gin", seed=0), {"distiller.hops": 2})])
    rows = read_rows(path)
    assert [r["distiller"] for r in rows] == ["random", "mirage"]
    assert rows[0]["distiller.gpc"] == "5" and rows[0]["distiller.hops"] == ""
    assert rows[1]["distiller.hops"] == "2"


def test_flatten() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": "x"}, "p") == {
        "p.a.b": 1, "p.a.c": "[1, 2]", "p.d": "x"}


def test_a_line_cut_by_a_kill_is_never_resumed_from(tmp_path: Path) -> None:
    """A writer killed mid-line leaves a partial row: it never counts as done, and the next row
    starts on a line of its own."""
    path = tmp_path / "runs.csv"
    ok = {"config_hash": "c", "distill_seed": 0, "status": "ok"}
    append_rows(path, [row_dict(Row("d", "x", "m", seed=0, **ok), {"train.epochs": 5})])
    whole = path.read_text()
    append_rows(path, [row_dict(Row("d", "x", "m", seed=1, **ok), {"train.epochs": 5})])
    with path.open("a") as f:
        f.write(path.read_text()[len(whole):][:40])  # seed 2's row, cut short
    assert completed_seeds(path, "c", 0) == {0, 1}
    append_rows(path, [row_dict(Row("d", "x", "m", seed=3, **ok), {"train.epochs": 5})])
    assert completed_seeds(path, "c", 0) == {0, 1, 3}
    assert completed_seeds(path, "c", 1) == set() and completed_seeds(path, "other", 0) == set()
    failed = {**ok, "status": "failed"}
    append_rows(path, [row_dict(Row("d", "x", "m", seed=4, **failed), {"train.epochs": 5})])
    assert 4 not in completed_seeds(path, "c", 0)  # failed seeds are retried
