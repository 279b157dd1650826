"""Which rows a report reads.

Results files are pooled, each row labelled with its file (column ``source``), filtered, and then
reduced to the rows that count: one per measurement, by the rule every part of the harness uses
(:func:`mirage.records.current_positions`: the newest row of the best status).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from mirage.records import current_positions

KEYS = ["dataset", "distiller", "model"]
HP_PREFIXES = ("dataset.", "distiller.", "model.", "train.")
NUMERIC = ["seed", "val_auc", "test_auc", "test_acc", "val_acc_cal", "test_acc_cal", "best_epoch",
           "distill_time_s", "train_time_s", "distilled_graphs", "distilled_bytes",
           "compression_ratio"]


def read(paths: Sequence[Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Every row of the ``paths`` (strings; a column one file lacks is ``''`` in its rows),
    with column ``source``: the file's label (default: its path). Missing files are an error."""
    for path in paths:
        if not path.exists():
            raise SystemExit(f"no such results file: {path}")
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False).assign(source=label)
              for path, label in zip(paths, labels or map(str, paths), strict=True)]
    return pd.concat(frames, ignore_index=True).fillna("")


def current(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows that count, per source file (see the module docstring), in their order;
    returns them and how many repeats were dropped."""
    keep: list[int] = []
    for _, part in df.groupby("source", sort=False):
        records = part.to_dict("records")
        keep += [part.index[i] for i in current_positions(records)]
    kept = df.loc[sorted(keep)]
    return kept, len(df) - len(kept)


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Metrics to floats (``''`` -> NaN); key and setting columns to strings, NaN -> ``''`` (a
    setting a row's distiller does not have is a value of its own for grouping)."""
    df = df.copy()
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in [*KEYS, "status", *settings(df)]:
        if col in df:
            df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    return df


def load(paths: Sequence[Path], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`read`, then :func:`current`, then :func:`normalize`: a study's rows as reports
    use them."""
    return normalize(current(read(paths, labels))[0])


def settings(df: pd.DataFrame) -> list[str]:
    """The flattened ``dataset.*``, ``distiller.*``, ``model.*`` and ``train.*`` columns, in file
    order."""
    return [c for c in df.columns if c.startswith(HP_PREFIXES)]


def varying(df: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """Those of ``cols`` with more than one value within some (dataset, distiller, model)."""
    if df.empty:
        return []
    counts = df.groupby(KEYS)[list(cols)].nunique() if cols else pd.DataFrame()
    return [c for c in cols if (counts[c] > 1).any()]


def where(df: pd.DataFrame, keep: Mapping[str, Sequence[str]] | None = None,
          fill: Mapping[str, str] | None = None, equals: Mapping[str, str] | None = None,
          ignore: Sequence[str] = ()) -> pd.DataFrame:
    """Filter pooled rows before :func:`current`: ``keep`` (a key column's values, e.g.
    ``{'dataset': ['NCI1']}``), then ``fill`` (rows without a setting, written before it existed,
    read the value their code ran), then ``equals`` (a column reads this value, as written in
    the CSV); ``ignore`` drops the columns starting with these prefixes afterwards, so settings
    that differ only there pool."""
    for column, values in (keep or {}).items():
        df = df[df[column].isin(values)]
    df = df.copy()
    for column, value in (fill or {}).items():
        df[column] = df[column].where(df[column] != "", value) if column in df else value
    for column, value in (equals or {}).items():
        if column not in df:
            raise SystemExit(f"where: no column {column!r} in the rows")
        df = df[df[column].astype(str) == value]
    if df.empty:
        raise SystemExit("no rows left after filtering")
    return df.drop(columns=[c for c in df.columns if ignore and c.startswith(tuple(ignore))])
