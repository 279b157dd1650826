"""The generic default's budget curve: Mirage under a generic rule (``generic_default.RULES``)
at growing byte budgets, each against random at the bytes of Mirage's own set, on the generic
path (no tuned file: ``dataset=tu`` / ``dataset=ogb``), from about the smallest feasible set to
the bytes of DosCond's and KiDD's 10-graphs-per-class sets (``results/paper_main``).

Usage::

    python -m experiments.studies.generic_curve                   # every dataset, GCN, seeds 0-2
    python -m experiments.studies.generic_curve --datasets NCI1 --models gcn gin
    python -m experiments.studies.generic_curve --datasets DD --budgets 25000 --seeds 3 4
    python -m experiments.report generic_curve                    # table and plot from the rows

Rows go to ``--results-dir`` (default ``results/generic_curve/``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from experiments.cli import ROOT, describe, exit_with, parse
from experiments.studies.generic_default import DEFAULT, RULES, against_random

# Per dataset: its generic path and the budgets (bytes); the last is about KiDD's 10-graph set.
# IMDB-BINARY starts at 30 kB: under fill=prefix class 1's first neighbourhood takes 14.2 kB, so a
# budget below 28.4 kB cannot give each class its half.
CURVES: dict[str, tuple[list[str], tuple[int, ...]]] = {
    "NCI1": (["dataset=tu", "dataset.name=NCI1"], (3_000, 10_000, 30_000, 100_000, 290_000)),
    "DD": (["dataset=tu", "dataset.name=DD"], (25_000, 250_000, 1_000_000, 4_600_000)),
    "IMDB-BINARY": (["dataset=tu", "dataset.name=IMDB-BINARY"],
                    (30_000, 60_000, 250_000, 510_000)),
    "ogbg-molbace": (["dataset=ogb", "dataset.name=ogbg-molbace"],
                     (10_000, 30_000, 100_000, 300_000, 1_050_000)),
}


def rule_at(rule: str, budget: int) -> list[str]:
    """The rule's overrides with its byte budget replaced by ``budget`` bytes."""
    return [o for o in RULES[rule] if not o.startswith("distiller.budget_bytes=")] + [
        f"distiller.budget_bytes={budget}"]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=describe(__doc__))
    ap.add_argument("--datasets", nargs="+", default=list(CURVES), choices=list(CURVES))
    ap.add_argument("--rule", default=DEFAULT, choices=list(RULES))
    ap.add_argument("--models", nargs="+", default=["gcn"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--budgets", nargs="+", type=int,
                    help="only these of each dataset's budgets (bytes, as in CURVES)")
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results" / "generic_curve")
    args = parse(ap, argv)
    known = {b for name in args.datasets for b in CURVES[name][1]}
    if unknown := sorted(set(args.budgets or ()) - known):
        ap.error(f"--budgets {unknown} are not budgets of {args.datasets}: {sorted(known)}")
    common = [f"model={','.join(args.models)}", f"results_dir={args.results_dir.resolve()}"]
    # A budget too small for the data is reported and skipped (exit code 1).
    return max((against_random(f"{name} {budget} B", [*CURVES[name][0], *args.overrides],
                               rule_at(args.rule, budget), common, args.seeds)
                for name in args.datasets for budget in CURVES[name][1]
                if not args.budgets or budget in args.budgets), default=0)


if __name__ == "__main__":
    exit_with(main)
