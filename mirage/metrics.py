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
    """Fraction of graphs whose arg-max class is ``y``; ``logits [G, K]``, ``y [G]``. Counted in
    float64, so 13 of 19 reads 0.6842105263157895, not float32's 0.6842105388641357."""
    return float((logits.argmax(dim=1) == y).double().mean())


def roc_auc(logits: Tensor, y: Tensor) -> float:
    """ROC-AUC. Binary: scored by the probability of class 1. Multi-class: one-vs-rest macro
    average over the classes present in ``y`` (probabilities renormalised over them).

    Each class is scored by its log-odds, ``z_k - logsumexp(z_j, j != k)``, which ranks exactly
    as its probability does but never saturates: a confident model's probabilities round to 1.0
    in floating point once its margin passes about 37, and the ties would read as chance (0.5).
    NaN when ``y`` holds a single class (AUC is undefined then).
    """
    labels = y.numpy()
    present = np.unique(labels)
    if len(present) < 2:
        return math.nan
    z = logits.double()[:, present]

    def log_odds(i: int) -> np.ndarray:
        rest = torch.cat([z[:, :i], z[:, i + 1:]], dim=1)
        return (z[:, i] - torch.logsumexp(rest, dim=1)).numpy()

    if logits.shape[1] == 2:
        return float(roc_auc_score(labels, log_odds(1)))
    return float(np.mean([roc_auc_score(labels == k, log_odds(i))
                          for i, k in enumerate(present)]))


def macro_f1(logits: Tensor, y: Tensor) -> float:
    """Macro-averaged F1 of the arg-max predictions."""
    pred = logits.argmax(dim=1).numpy()
    return float(f1_score(y.numpy(), pred, average="macro", zero_division=0))


def evaluate_logits(logits: Tensor, y: Tensor) -> dict[str, float]:
    """All metrics at once: ``{'acc', 'auc', 'f1'}``."""
    return {"acc": accuracy(logits, y), "auc": roc_auc(logits, y), "f1": macro_f1(logits, y)}


def fit_logit_offsets(logits: Tensor, y: Tensor, max_rounds: int = 20) -> Tensor:
    """Per-class offsets ``b [K]`` (``b[0] = 0``) that maximise the accuracy of
    ``argmax(logits + b)`` on ``(logits [G, K], y [G])``: the calibrated decision rule.

    Fit it on validation only and apply it to test (:func:`calibrated_accuracy`). Binary: one
    offset, i.e. the threshold on the probability of class 1 that maximises accuracy, found
    exactly. Multi-class: coordinate ascent, one class at a time (each step exact), until no
    offset moves. Among equally accurate offsets the one nearest the current value wins, so an
    uninformative validation set leaves the plain arg-max rule (``b = 0``).
    """
    z = torch.nan_to_num(logits.double())  # a diverged model's NaN/inf logits still get a rule
    k = z.size(1)
    b = torch.zeros(k, dtype=torch.double)
    for _ in range(max_rounds):
        moved = False
        for c in range(1, k):
            others = z + b
            others[:, c] = -math.inf
            best_other, pred_other = others.max(dim=1)
            # Class c wins iff b[c] > t_i; below that, the sample gets its best other class.
            t = best_other - z[:, c]
            new = _best_offset(t, y == c, pred_other == y, float(b[c]))
            moved |= new != float(b[c])
            b[c] = new
        if not moved:
            break
    return b.to(logits.dtype)


def _best_offset(t: Tensor, is_c: Tensor, other_correct: Tensor, current: float) -> float:
    """The offset ``o`` maximising ``#{is_c, o > t} + #{~is_c, other_correct, o <= t}``.

    Candidates lie below every ``t``, between neighbours and above every ``t``; counting with
    sorted cuts keeps it ``O(G log G)``.
    """
    cuts = torch.unique(t)  # sorted
    pos = torch.searchsorted(cuts, t)
    m = cuts.numel()
    keep = ~is_c & other_correct
    # Candidate j sits just above cuts[j - 1]: it wins the class-c samples with t <= cuts[j - 1]
    # and keeps the others with t >= cuts[j].
    score = _at_or_below(pos[is_c], m) + int(keep.sum()) - _at_or_below(pos[keep], m)
    if _score_at(current, t, is_c, other_correct) == int(score.max()):
        return current  # already optimal: keep it
    cand = torch.cat([cuts[:1] - 1, (cuts[1:] + cuts[:-1]) / 2, cuts[-1:] + 1])
    best = cand[score == score.max()]
    return float(best[(best - current).abs().argmin()])


def _at_or_below(pos: Tensor, m: int) -> Tensor:
    """``[m + 1]``: entry ``j`` counts the ``pos`` below ``j`` (cut indices ``0 .. j - 1``)."""
    return torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(pos, minlength=m).cumsum(0)])


def _score_at(o: float, t: Tensor, is_c: Tensor, other_correct: Tensor) -> int:
    return int((is_c & (o > t)).sum() + (~is_c & other_correct & (o <= t)).sum())


def calibrated_accuracy(val_logits: Tensor, y_val: Tensor, test_logits: Tensor,
                        y_test: Tensor) -> tuple[float, float]:
    """(val, test) accuracy of the decision rule fitted on validation (never on test)."""
    b = fit_logit_offsets(val_logits, y_val)
    return accuracy(val_logits + b, y_val), accuracy(test_logits + b, y_test)
