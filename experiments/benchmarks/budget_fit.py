"""How close Mirage's ``distiller.budget_bytes`` lands to the budget it is given.

Usage::

    python -m experiments.benchmarks.budget_fit   # -> results/budget_fit/mirage_budget.{csv,md}
    python -m experiments.benchmarks.budget_fit --datasets mutag --budgets 1000 --out /tmp/b.csv

Per dataset the harness's own config is composed (``distiller=mirage dataset=<ds>``, so the
tuned ``hops`` apply), then the training split is distilled once per budget with
``threshold=1 max_patterns=null cross_class_filter=false budget_bytes=B`` and the set's bytes
(the one byte function every row reports), graph count and per-class support thresholds are
written. Extra Hydra overrides (``data_root=...``, ``cache_dir=...``) come last, after ``--``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.benchmarks.common import config, write
from experiments.cli import ROOT, describe, exit_with, parse
from mirage.report.formats import markdown_table

BUDGETS = (2_000, 5_000, 20_000, 100_000, 1_000_000)
COLUMNS = {"dataset": "dataset", "hops": "hops", "budget_bytes": "budget bytes",
           "bytes": "bytes used", "fill": "used / budget", "graphs": "graphs",
           "thresholds": "support threshold per class"}


def measure(dataset: str, budgets: Sequence[int], overrides: Sequence[str]) -> list[dict]:
    from omegaconf import OmegaConf

    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.base import build_distiller
    from mirage.errors import ConfigError

    cfg = config(dataset, overrides)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    train = data.train_split()
    rows = []
    for budget in budgets:
        node = OmegaConf.to_container(cfg.distiller, resolve=True)
        node.update(threshold=1, max_patterns=None, cross_class_filter=False,
                    budget_bytes=budget)
        row = {"dataset": data.name, "hops": node["hops"], "budget_bytes": budget}
        try:
            ds = build_distiller(node).distill(train, seed=0)
        except ConfigError as err:  # a budget below the smallest set: its row says so
            rows.append({**row, "bytes": "-", "fill": "-", "graphs": 0, "thresholds": str(err)})
            continue
        rows.append({**row, "bytes": ds.nbytes(), "fill": round(ds.nbytes() / budget, 3),
                     "graphs": ds.num_graphs,
                     "thresholds": " ".join(f"{c}:{s['threshold']}"
                                            for c, s in ds.meta["classes"].items())})
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    return markdown_table(list(COLUMNS.values()), [[r[c] for c in COLUMNS] for r in rows]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=describe(__doc__))
    ap.add_argument("--datasets", nargs="+", default=["nci1", "ogbg_molbace", "mutag"])
    ap.add_argument("--budgets", nargs="+", type=int, default=list(BUDGETS))
    ap.add_argument("--out", type=Path,
                    default=ROOT / "results" / "budget_fit" / "mirage_budget.csv")
    args = parse(ap, argv)
    rows = [r for name in args.datasets for r in measure(name, args.budgets, args.overrides)]
    print(write(rows, args.out, markdown), end="")
    return 0


if __name__ == "__main__":
    exit_with(main)
