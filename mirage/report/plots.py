"""Plots of a study's rows (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mirage.report.paper import in_order
from mirage.report.stats import DDOF


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt: Any, n: int) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows + 0.6), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _save(plt: Any, fig: Any, out: Path, bottom: float = 0.0) -> None:
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _marker(cell: pd.Series) -> str:
    """^: a set drawn to a byte budget; o / s: 1 / 10 graphs per class; * otherwise."""
    return "^" if cell["budgeted"] else {"1": "o", "10": "s"}.get(cell["gpc"], "*")


def auc_vs_bytes(cells: pd.DataFrame, datasets: Sequence[str], out: Path,
                 model: str = "gcn") -> None:
    """Per dataset: test ROC-AUC against distilled bytes (log), one point per arm (its colour
    from its config), the Pareto front (no other point has fewer bytes and a higher AUC) as a
    dashed step line."""
    plt = pyplot()
    d = cells[(cells["model"] == model) & cells["auc_mean"].notna()]
    datasets = in_order(datasets, d["dataset"])
    fig, axes = _grid(plt, len(datasets))
    for ax, dataset in zip(axes, datasets, strict=False):
        g = d[d["dataset"] == dataset].sort_values("distilled_bytes")
        for _, r in g.iterrows():
            ax.errorbar(r["distilled_bytes"], r["auc_mean"], yerr=r["auc_std"],
                        color=r["color"], capsize=2, ls="none", marker=_marker(r),
                        mfc="none" if r["pool"] == "mean" else None, ms=7)
        front, best = [], -math.inf
        for _, r in g.iterrows():
            if r["auc_mean"] > best:
                best = r["auc_mean"]
                front.append((r["distilled_bytes"], best))
        ax.step(*zip(*front, strict=True), where="post", color="k", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(f"{dataset} ({model.upper()})")
        ax.set_xlabel("distilled bytes (log)")
        ax.set_ylabel("test ROC-AUC %")
        ax.grid(alpha=0.3)
    families = d.drop_duplicates("family")
    handles = [plt.Line2D([], [], color=c, marker="o", ls="none", label=f)
               for f, c in zip(families["family"], families["color"], strict=True)]
    handles += [plt.Line2D([], [], color="gray", marker=m, ls="none", label=lab) for m, lab in
                (("o", "1 graph / class"), ("s", "10 graphs / class"),
                 ("*", "other settings"), ("^", "drawn to another set's bytes"))]
    handles.append(plt.Line2D([], [], color="k", ls="--", label="Pareto front"))
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=8)
    fig.suptitle("Test ROC-AUC against distilled bytes (hollow: mean pooling)")
    _save(plt, fig, out, bottom=0.14)


def distill_time(cells: pd.DataFrame, arms: Sequence[str], datasets: Sequence[str],
                 out: Path, full: str | None = None) -> None:
    """Median distillation seconds (log) per arm and dataset, for the arms that make their own
    set (not drawn to another's bytes); ``full``, the whole split, is not distilled."""
    plt = pyplot()
    d = cells[(cells["distill_time_s"] > 0) & ~cells["budgeted"] & (cells["arm"] != full)]
    datasets = in_order(datasets, d["dataset"])
    arms = in_order(arms, d["arm"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(len(arms), 1)
    for k, arm in enumerate(arms):
        a = d[d["arm"] == arm]
        t = a.groupby("dataset")["distill_time_s"].median()
        xs = [i + (k - len(arms) / 2) * width for i, x in enumerate(datasets) if x in t]
        ax.bar(xs, [t[x] for x in datasets if x in t], width=width, label=a["label"].iloc[0],
               color=a["color"].iloc[0], alpha=0.55 if a["gpc"].iloc[0] == "1" else 1.0)
    ax.set_yscale("log")
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel("distillation time, s (log; median over rows)")
    ax.set_title("Distillation time per arm (one machine, 2 CPU cores)")
    ax.legend(fontsize=7, ncol=3)
    ax.grid(axis="y", alpha=0.3)
    _save(plt, fig, out)


def ablation(df: pd.DataFrame, column: str, out: Path) -> None:
    """Test ROC-AUC (mean ± std) against ``column``, one line per (dataset, GNN); compression
    (log, dotted) on the right axis."""
    plt = pyplot()
    ok = df[df["status"] == "ok"].copy()
    ok["_x"] = pd.to_numeric(ok[column])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    right = ax.twinx()
    for (dataset, model), g in ok.groupby(["dataset", "model"]):
        s = g.groupby("_x").agg(m=("test_auc", "mean"),
                                sd=("test_auc", lambda v: v.std(ddof=DDOF)),
                                c=("compression_ratio", "median"))
        line = ax.errorbar(s.index, s["m"] * 100, yerr=s["sd"] * 100, capsize=3,
                           marker="o", label=f"{dataset} {model.upper()}")
        right.plot(s.index, s["c"], ls=":", color=line[0].get_color())
    ax.set_xticks(sorted(ok["_x"].unique()))
    right.set_yscale("log")
    right.set_ylabel("compression × (dotted, log)")
    ax.set_xlabel(column)
    ax.set_ylabel("test ROC-AUC % (mean ± std)")
    ax.set_title(f"Mirage: {column.split('.')[-1]} ablation")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(plt, fig, out)


def budget_curve(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std (ddof 0) of test AUC and the mean bytes per (dataset, model, distiller,
    byte budget), over the ok rows that have a budget."""
    ok = rows[(rows["status"] == "ok") & (rows["distiller.budget_bytes"] != "")]
    return (ok.groupby(["dataset", "model", "distiller", "distiller.budget_bytes"])
            .agg(bytes=("distilled_bytes", "mean"), auc=("test_auc", "mean"),
                 std=("test_auc", lambda v: v.std(ddof=DDOF)), seeds=("seed", "size"))
            .reset_index())


def budget_curve_plot(table: pd.DataFrame, out: Path) -> None:
    """One panel per dataset: test ROC-AUC (%) against distilled bytes (log axis)."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    plt = pyplot()
    datasets = sorted(table["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for (model, distiller), g in table[table["dataset"] == dataset].groupby(
                ["model", "distiller"]):
            g = g.sort_values("bytes")
            ax.errorbar(g["bytes"], 100 * g["auc"], yerr=100 * g["std"].fillna(0), marker="o",
                        capsize=3, label=f"{distiller} ({model.upper()})")
        ax.set(xscale="log", xlabel="distilled set (bytes, log scale)",
               ylabel="test ROC-AUC (%)", title=f"{dataset}: test ROC-AUC against bytes")
        # Labels at 1, 2 and 5 of each decade, none at the other minor ticks: a panel spanning
        # less than a decade still gets labels, and they do not overlap.
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(EngFormatter(unit="B", sep=" "))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
