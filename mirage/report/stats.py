"""Statistics over seeds: one definition of each, for every table and plot."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.stats

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


CONFIDENCE = 0.95
MIN_SEEDS_CI = 3  # fewer seeds: no interval, no test (the cell says so by leaving it blank)


def _sample(values: pd.Series | list[float], scale: float) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(float) * scale


def ci_halfwidth(values: pd.Series | list[float], scale: float = 100.0) -> float:
    """Half-width of the 95 % confidence interval of the mean (Student's t with n - 1 degrees of
    freedom, sample std with ddof 1); NaN below :data:`MIN_SEEDS_CI` values."""
    v = _sample(values, scale)
    if len(v) < MIN_SEEDS_CI:
        return math.nan
    t = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, len(v) - 1)
    return float(t * v.std(ddof=1) / math.sqrt(len(v)))


def one_sample(values: pd.Series | list[float],
               scale: float = 100.0) -> tuple[float, float, float, float]:
    """Student's two-sided t-test of mean(values) = 0: the mean, its 95 % interval and the
    p-value; NaNs below :data:`MIN_SEEDS_CI` values (paired differences, e.g. one per split)."""
    v = _sample(values, scale)
    if len(v) < MIN_SEEDS_CI:
        return (math.nan,) * 4
    mean, se = float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v)))
    if se == 0:  # as welch: no spread, the mean is its own interval
        return mean, mean, mean, 1.0 if mean == 0 else 0.0
    half = ci_halfwidth(v, scale=1.0)
    return mean, mean - half, mean + half, float(2 * scipy.stats.t.sf(abs(mean) / se,
                                                                          len(v) - 1))


def welch(a: pd.Series | list[float], b: pd.Series | list[float],
          scale: float = 100.0) -> tuple[float, float, float, float]:
    """Welch's two-sided t-test of mean(a) = mean(b) (unequal variances): the difference of
    means, its 95 % interval (Welch-Satterthwaite degrees of freedom) and the p-value; NaNs below
    :data:`MIN_SEEDS_CI` values on either side. Equal constant samples: difference 0, p 1."""
    x, y = _sample(a, scale), _sample(b, scale)
    if min(len(x), len(y)) < MIN_SEEDS_CI:
        return (math.nan,) * 4
    diff = float(x.mean() - y.mean())
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        return diff, diff, diff, 1.0 if diff == 0 else 0.0
    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    half = float(scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * se)
    p = float(2 * scipy.stats.t.sf(abs(diff) / se, dof))
    return diff, diff - half, diff + half, p
