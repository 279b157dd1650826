"""Classification metrics from logits.

One job each; all return floats in [0, 1] (NaN where undefined).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import f1_score, roc_auc_score
from torch import Tensor


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of graphs whose arg-max class is ``y``; ``logits [G, K]``, ``y [G]``."""
    return float((logits.argmax(dim=1) == y).float().mean())


def roc_auc(logits: Tensor, y: Tensor) -> float:
    """ROC-AUC. Binary: softmax probability of class 1. Multi-class: one-vs-rest macro average.

    NaN when ``y`` holds a single class (AUC is undefined then).
    """
    prob = torch.softmax(logits.double(), dim=1).numpy()
    labels = y.numpy()
    present = np.unique(labels)
    if len(present) < 2:
        return math.nan
    if prob.shape[1] == 2:
        return float(roc_auc_score(labels, prob[:, 1]))
    if len(present) < prob.shape[1]:  # OvR macro over the classes present in y
        prob = prob[:, present] / prob[:, present].sum(axis=1, keepdims=True)
        labels = np.searchsorted(present, labels)
    return float(roc_auc_score(labels, prob, multi_class="ovr", average="macro"))


def macro_f1(logits: Tensor, y: Tensor) -> float:
    """Macro-averaged F1 of the arg-max predictions."""
    pred = logits.argmax(dim=1).numpy()
    return float(f1_score(y.numpy(), pred, average="macro", zero_division=0))


def evaluate_logits(logits: Tensor, y: Tensor) -> dict[str, float]:
    """All metrics at once: ``{'acc', 'auc', 'f1'}``."""
    return {"acc": accuracy(logits, y), "auc": roc_auc(logits, y), "f1": macro_f1(logits, y)}
