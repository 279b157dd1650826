"""Write the committed split files of the named TU datasets (run once; kept under version control).

Each file holds the DosCond / Mirage rule's output (:func:`mirage.data.randperm_split`, seed 0,
10% test, 10% val) for the dataset's graph count, so that no torch release can move a test set.
``tests/test_splits.py`` recomputes the rule and compares.

Usage: ``python -m experiments.tools.make_splits [--data-root DIR]`` (reads the graph label files).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from experiments.cli import exit_with
from mirage.data import SPLIT_PARTS, SPLITS_DIR, randperm_split, resolve_data_root

DATASETS = ("MUTAG", "NCI1", "DD", "IMDB-BINARY")
SEED, TEST, VAL = 0, 0.1, 0.1
RULE = ("torch.manual_seed(0); perm = torch.randperm(N); n = ceil(N / 10); test = perm[:n], "
        "val = perm[n:2n], train = perm[2n:] (indices into the TU graph order, 0-based)")


def num_graphs(data_root: Path, name: str) -> int:
    labels = data_root / "TU" / name / "raw" / f"{name}_graph_labels.txt"
    return sum(1 for line in labels.read_text().splitlines() if line.strip())


def split_document(name: str, n: int) -> dict[str, object]:
    split = randperm_split(n, SEED, TEST, VAL)
    return {"dataset": name, "num_graphs": n, "rule": RULE, **{p: split[p] for p in SPLIT_PARTS}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None, help="default: $MIRAGE_DATA_ROOT, else ./data")
    args = ap.parse_args(argv)
    root = resolve_data_root(args.data_root)
    SPLITS_DIR.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        path = SPLITS_DIR / f"{name}.json"
        path.write_text(json.dumps(split_document(name, num_graphs(root, name))) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    exit_with(main)
