"""Test ROC-AUC against distilled bytes: Mirage under ``distiller.budget_bytes`` and random at
the same budgets, on each dataset's tuned harness settings.

Usage::

    python -m experiments.budget_curve            # NCI1 and ogbg-molbace, GCN, seeds 0-2
    python -m experiments.budget_curve --plot-only

Mirage runs with ``threshold=1`` (the budget alone sets each class's support threshold; the
tuned threshold would otherwise be a floor); random takes turns per class until it holds at least
the budget. Rows go to ``--results-dir``; the plot (log bytes on x, one panel per dataset, mean
and standard deviation over seeds) to ``results/figures/budget_curve.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from experiments import generic_rule

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"nci1": (5_000, 20_000, 100_000, 300_000),
           "ogbg_molbace": (30_000, 100_000, 300_000, 1_000_000)}
DISTILLERS = {"mirage": ["distiller=mirage", "distiller.threshold=1"],
              "random": ["distiller=random"]}


def sweep(dataset: str, budgets: Sequence[int], models: Sequence[str], seeds: Sequence[int],
          results_dir: Path, extra: Sequence[str]) -> int:
    """Both distillers over ``budgets``; the worst exit code."""
    budget = f"distiller.budget_bytes={','.join(map(str, budgets))}"
    return max(generic_rule.sweep([f"dataset={dataset}", *overrides, budget, *extra], models,
                                  seeds, results_dir) for overrides in DISTILLERS.values())


def curve(runs: Path) -> pd.DataFrame:
    """Mean and std of test AUC and the mean bytes per (dataset, model, distiller, budget)."""
    rows = pd.read_csv(runs, low_memory=False)
    rows = rows[(rows["status"] == "ok") & rows["distiller.budget_bytes"].notna()]
    rows = rows.sort_values("timestamp").drop_duplicates(
        ["dataset", "model", "distiller", "distiller.budget_bytes", "seed"], keep="last")
    return (rows.groupby(["dataset", "model", "distiller", "distiller.budget_bytes"])
            .agg(bytes=("distilled_bytes", "mean"), auc=("test_auc", "mean"),
                 std=("test_auc", "std"), seeds=("seed", "size")).reset_index())


def plot(table: pd.DataFrame, path: Path) -> Path:
    """One panel per dataset: test ROC-AUC (%) against distilled bytes (log axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted(table["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for (model, distiller), g in table[table["dataset"] == dataset].groupby(
                ["model", "distiller"]):
            g = g.sort_values("bytes")
            ax.errorbar(g["bytes"], 100 * g["auc"], yerr=100 * g["std"].fillna(0), marker="o",
                        capsize=3, label=f"{distiller} ({model.upper()})")
        ax.set(xscale="log", xlabel="distilled set (bytes, log scale)",
               ylabel="test ROC-AUC (%)", title=f"{dataset}: accuracy against budget")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    argv, extra = generic_rule.split_overrides(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    ap.add_argument("--models", nargs="+", default=["gcn"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results" / "issue16_budget")
    ap.add_argument("--plot", type=Path, default=ROOT / "results" / "figures" / "budget_curve.png")
    ap.add_argument("--plot-only", action="store_true", help="plot the rows already there")
    args = ap.parse_args(argv)
    code = 0
    if not args.plot_only:
        for dataset in args.datasets:
            code = max(code, sweep(dataset, BUDGETS[dataset], args.models, args.seeds,
                                   args.results_dir.resolve(), extra))
    table = curve(args.results_dir / "runs.csv")
    print(table.to_string(index=False))
    print(f"wrote {plot(table, args.plot)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
