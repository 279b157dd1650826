"""Statistics over seeds: one definition of each, for every table and plot."""

from __future__ import annotations

import math

import pandas as pd

DDOF = 0  # population std, as the official Mirage code (np.std)
TOP_K = 5


def mean_std(values: pd.Series, scale: float = 100.0) -> tuple[float, float]:
    """Mean and std (ddof :data:`DDOF`) of the non-missing ``values`` times ``scale``; NaN when
    none."""
    v = pd.to_numeric(values, errors="coerce").dropna() * scale
    if v.empty:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=DDOF))


def top_k(ok: pd.DataFrame, k: int = TOP_K) -> pd.DataFrame:
    """The paper's selection: the ``k`` runs with the highest val AUC (ties: lower seed first).
    Test scores never enter the choice."""
    return ok.sort_values(["val_auc", "seed"], ascending=[False, True],
                          na_position="last", kind="stable").head(k)


def median(frame: pd.DataFrame, column: str) -> float:
    """Median of a column; NaN when it is absent or empty."""
    if column not in frame or not frame[column].notna().any():
        return math.nan
    return float(pd.to_numeric(frame[column], errors="coerce").median())
