"""Test ROC-AUC against distilled bytes: Mirage under ``distiller.budget_bytes`` and random at
the same budgets, on each dataset's tuned harness settings.

Usage::

    python -m experiments.studies.budget_curve      # NCI1 and ogbg-molbace, GCN, seeds 0-2
    python -m experiments.report budget_curve       # its table and plot, from the rows

Mirage runs with ``threshold=1`` (the budget alone sets each class's support threshold; the
tuned threshold would otherwise be a floor); random takes turns per class until it holds at least
the budget. Rows go to ``--results-dir`` (default ``results/budget_curve/``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import ROOT, describe, exit_with, parse, sweep

BUDGETS = {"nci1": (5_000, 20_000, 100_000, 300_000),
           "ogbg_molbace": (30_000, 100_000, 300_000, 1_000_000)}
DISTILLERS = {"mirage": ["distiller=mirage", "distiller.threshold=1"],
              "random": ["distiller=random"]}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=describe(__doc__))
    ap.add_argument("--datasets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    ap.add_argument("--models", nargs="+", default=["gcn"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results" / "budget_curve")
    args = parse(ap, argv)
    code = 0
    for dataset in args.datasets:
        budget = f"distiller.budget_bytes={','.join(map(str, BUDGETS[dataset]))}"
        for distiller in DISTILLERS.values():
            code = max(code, sweep([f"dataset={dataset}", *distiller, budget,
                                    f"model={','.join(args.models)}",
                                    f"seeds=[{','.join(map(str, args.seeds))}]",
                                    f"results_dir={args.results_dir.resolve()}",
                                    *args.overrides]))
    return code


if __name__ == "__main__":
    exit_with(main)
