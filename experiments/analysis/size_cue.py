"""Does the model validation chose score graphs by their size? One run's seeds, retrained.

A sum-pooled GNN's graph score holds a term proportional to the number of nodes it pools (the
last layer's bias, summed). Early in training that term can order the graphs before anything of
the set has been fit; on a small validation set it can also be the epoch validation prefers.
For each seed this trains the run's GNN on its distilled set exactly as ``run.py`` does, takes
the model of the epoch validation chooses, and reports, on the validation and the test graphs:
its ROC-AUC, the correlation of its score (logit of class 1 minus class 0) with the graph's
number of nodes, and the ROC-AUC that the number of nodes alone scores (larger = class 1).
Binary tasks only.

Usage (the arguments are run.py's Hydra overrides; the set comes from the artifact cache, or is
distilled)::

    python -m experiments.analysis.size_cue dataset=tu dataset.name=COX2 model=gin \
        'seeds=[0,1,2]'

Prints a Markdown table, one line per seed, and writes no row.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch_geometric.data import Data

from experiments.cli import compose, describe, distilled_set, exit_with, parse
from mirage.errors import ConfigError
from mirage.report.formats import markdown_table


def size_cue(model: torch.nn.Module, graphs: Sequence[Data]) -> dict[str, float]:
    """``model``'s ROC-AUC on ``graphs``, the correlation of its class-1 score with the number
    of nodes, and the ROC-AUC of the number of nodes alone."""
    from mirage.train import collate, predict  # predict: eval mode, no gradients

    logits = predict(model, collate(list(graphs), 256, torch.device("cpu")))
    score = (logits[:, 1] - logits[:, 0]).numpy()
    y = np.array([int(g.y.view(-1)[0]) for g in graphs])
    size = np.array([int(g.num_nodes) for g in graphs], dtype=float)
    return {"auc": roc_auc_score(y, score), "corr": float(np.corrcoef(score, size)[0, 1]),
            "size_auc": roc_auc_score(y, size)}


def chosen_model(cfg: Any, data: Any, distilled: Any, seed: int) -> tuple[torch.nn.Module, int]:
    """The run's GNN trained on ``distilled`` with ``seed`` as ``run.py`` trains it, at the epoch
    validation chooses; and that epoch."""
    from mirage.pipeline import fit_seed, fresh_model

    model = fresh_model(cfg, data, seed, torch.device("cpu"))
    states: dict[int, dict[str, torch.Tensor]] = {}

    def keep(entry: dict[str, float]) -> None:
        if "test_auc" in entry:  # a new best on validation: the only epochs fit may choose
            states[int(entry["epoch"])] = copy.deepcopy(model.state_dict())

    result = fit_seed(cfg, model, data, distilled, seed, torch.device("cpu"), on_epoch=keep)
    model.load_state_dict(states[result.best_epoch])
    return model, result.best_epoch


def main(argv: Sequence[str] | None = None) -> int:
    cfg = compose(parse(argparse.ArgumentParser(description=describe(__doc__)), argv).overrides)
    torch.set_num_threads(cfg.num_threads)
    data, distilled = distilled_set(cfg)
    if data.num_classes != 2:
        raise ConfigError(f"size_cue needs a binary task; dataset '{cfg.dataset.name}' has "
                          f"{data.num_classes} classes")
    rows = []
    for seed in cfg.seeds:
        model, epoch = chosen_model(cfg, data, distilled, int(seed))
        val, test = size_cue(model, data.val), size_cue(model, data.test)
        rows.append([seed, epoch, *(f"{100 * p['auc']:.1f}" for p in (val, test)),
                     *(f"{p['corr']:+.2f}" for p in (val, test)),
                     *(f"{100 * p['size_auc']:.1f}" for p in (val, test))])
    print(f"{cfg.dataset.name}, {cfg.distiller.name}, {cfg.model.name}: a set of "
          f"{distilled.nbytes()} bytes")
    print(markdown_table(["seed", "epoch chosen", "val AUC", "test AUC",
                          "val corr(score, nodes)", "test corr(score, nodes)",
                          "val AUC of nodes alone", "test AUC of nodes alone"], rows))
    return 0


if __name__ == "__main__":
    exit_with(main)
