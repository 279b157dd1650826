"""Does what a distilled set teaches carry beyond the graphs it was distilled from?

A distiller reads the training graphs; Mirage picks the trees whose share differs between the
classes of those graphs. Some of those differences are chance, and a GNN that fits them ranks
the training graphs better than it ranks graphs it never saw. For each seed this trains the
run's GNN on its distilled set exactly as ``run.py`` does and reports the ROC-AUC of the model
of the last epoch (fitted to the set) on the training, validation and test graphs, beside the
epoch validation chooses and that model's validation and test AUC (what ``run.py`` records).

Usage (the arguments are run.py's Hydra overrides; the set comes from the artifact cache, or is
distilled)::

    python -m experiments.analysis.fit_gap dataset=tu dataset.name=COX2 model=gin \
        'seeds=[0,1,2]'

Prints a Markdown table, one line per seed, and writes no row.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from experiments.cli import compose, describe, distilled_set, exit_with, parse
from mirage.metrics import roc_auc
from mirage.report.formats import markdown_table


def auc(model: torch.nn.Module, graphs: Sequence) -> float:
    """``model``'s ROC-AUC on ``graphs`` (binary: class 1 against 0; else one-vs-rest macro)."""
    from mirage.train import collate, predict  # predict: eval mode, no gradients

    logits = predict(model, collate(list(graphs), 256, torch.device("cpu")))
    return roc_auc(logits, torch.cat([g.y.view(-1) for g in graphs]))


def main(argv: Sequence[str] | None = None) -> int:
    from mirage.pipeline import fit_seed, fresh_model

    cfg = compose(parse(argparse.ArgumentParser(description=describe(__doc__)), argv).overrides)
    torch.set_num_threads(cfg.num_threads)
    data, distilled = distilled_set(cfg)
    rows = []
    for seed in cfg.seeds:
        model = fresh_model(cfg, data, int(seed), torch.device("cpu"))
        chosen = fit_seed(cfg, model, data, distilled, int(seed), torch.device("cpu"))
        last = [auc(model, part) for part in (data.train, data.val, data.test)]
        rows.append([seed, *(f"{100 * a:.1f}" for a in last), chosen.best_epoch,
                     f"{100 * chosen.val['auc']:.1f}", f"{100 * chosen.test['auc']:.1f}"])
    print(f"{cfg.dataset.name}, {cfg.distiller.name}, {cfg.model.name}: a set of "
          f"{distilled.nbytes()} bytes, {cfg.train.epochs} epochs")
    print(markdown_table(["seed", "last epoch: train AUC", "val AUC", "test AUC",
                          "epoch chosen", "its val AUC", "its test AUC"], rows))
    return 0


if __name__ == "__main__":
    exit_with(main)
