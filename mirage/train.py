"""The one training / evaluation loop: train on a distilled set, evaluate on real graphs.

Every epoch evaluates validation; test is evaluated only at the epochs that set a new best
validation score, and the run reports the test metrics of the best one (ties: earliest epoch). Test
is never used for selection (no test curve exists to peek at, and evaluation costs half), nor for
the calibrated accuracy (``acc_cal``: a decision rule fitted on that epoch's validation logits and
applied to its test logits, see :func:`mirage.metrics.calibrated_accuracy`).
``train.eval_at_init`` adds the untrained model as epoch 0, as the official Mirage loop does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.loader import DataLoader

from mirage.distill.base import DistilledSet
from mirage.metrics import calibrated_accuracy, evaluate_logits


@dataclass
class FitResult:
    """Outcome of one seed: best-validation epoch and its metrics, plus the full history."""

    best_epoch: int
    val: dict[str, float]
    test: dict[str, float]
    train_time_s: float
    eval_time_s: float
    history: list[dict[str, float]] = field(default_factory=list)


def collate(graphs: list[Data], batch_size: int, device: torch.device) -> list[Batch]:
    """Evaluation batches, in order, already on ``device``.

    Built once per run: real val / test graphs never change, and re-collating them every epoch
    used to cost more than the forward passes.
    """
    return [b.to(device) for b in DataLoader(graphs, batch_size=batch_size)]


@torch.no_grad()
def predict(model: nn.Module, batches: list[Batch]) -> Tensor:
    """Logits ``[total graphs, num_classes]`` in eval mode, in batch order."""
    model.eval()
    return torch.cat([model(b).cpu() for b in batches])


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def fit_norm_stats(model: nn.Module, distilled: DistilledSet, device: torch.device) -> None:
    """Set every BatchNorm's running statistics to those of ``distilled``'s nodes under the
    current (untrained) weights: one pass over the whole set as one batch, every other module in
    eval mode (no dropout draw). ``frozen_norm`` then keeps them through training."""
    norms = _batch_norms(model)
    if not norms:
        return
    model.eval()
    momenta = [m.momentum for m in norms]
    for m in norms:
        # One batch with a cumulative average: the set's exact mean and (unbiased) variance.
        m.reset_running_stats()
        m.momentum = None
        m.train()
    (whole,) = collate(distilled.samples, len(distilled.samples), device)
    model(whole)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum



def train_epoch(model: nn.Module, distilled: DistilledSet, optimizer: torch.optim.Optimizer,
                batch_size: int, generator: torch.Generator, device: torch.device) -> float:
    """One pass over the distilled set; returns the mean training loss.

    Samples carrying ``weight`` contribute in proportion to it. A set whose ``meta`` says
    ``frozen_norm`` trains with every BatchNorm at its running statistics, never updated
    (Mirage's option): the initial ones, or the set's (``norm_stats="set"``, fitted by
    :func:`fit` before the first epoch).
    """
    model.train()
    if distilled.meta.get("frozen_norm"):
        # Statistics that follow the set while the GNN fits it invert it on real graphs.
        for m in _batch_norms(model):
            m.eval()
    total, count = 0.0, 0
    for batch in distilled.loader(batch_size, generator):
        batch = batch.to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(batch), batch.y, reduction="none")
        w = batch.get("weight")
        loss = (loss * w).sum() / w.sum() if w is not None else loss.mean()
        loss.backward()
        optimizer.step()
        total += loss.item() * batch.num_graphs
        count += batch.num_graphs
    return total / max(count, 1)


def select_best(history: list[dict[str, float]], key: str) -> dict[str, float]:
    """The earliest entry with the highest non-NaN ``key``; the first entry when all are NaN."""
    scored = [h for h in history if not math.isnan(h[key])]
    return max(scored, key=lambda h: h[key]) if scored else history[0]


def is_new_best(history: list[dict[str, float]], entry: dict[str, float], key: str) -> bool:
    """Whether ``entry`` would be :func:`select_best`'s choice over ``history`` + ``entry``."""
    if not history:
        return True
    if math.isnan(entry[key]):
        return False
    return math.isnan(best := select_best(history, key)[key]) or entry[key] > best


def fit(model: nn.Module, distilled: DistilledSet, val: list[Data], test: list[Data], *,
        epochs: int, batch_size: int, lr: float, weight_decay: float, eval_batch_size: int,
        select_on: str, seed: int, device: torch.device, eval_at_init: bool = False,
        progress: bool = False,
        on_epoch: Callable[[dict[str, float]], None] | None = None) -> FitResult:
    """Adam on ``distilled``; evaluate ``val`` every epoch, ``test`` at new bests; select on
    ``select_on``. History entries of other epochs carry no ``test_*`` (nor ``val_acc_cal``) keys.

    A set with ``norm_stats="set"`` first gets its BatchNorm statistics (:func:`fit_norm_stats`).
    ``eval_at_init`` also evaluates the untrained model as epoch 0, a candidate for selection like
    any other: the official Mirage loop does this (it evaluates before each training epoch).
    ``on_epoch`` receives each epoch's history entry as it is made (W&B's live curve).
    """
    from tqdm.auto import trange

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    y_val, y_test = torch.cat([g.y for g in val]), torch.cat([g.y for g in test])
    t_collate = time.perf_counter()
    val_batches = collate(val, eval_batch_size, device)
    test_batches = collate(test, eval_batch_size, device)
    history: list[dict[str, float]] = []
    train_time, eval_time = 0.0, time.perf_counter() - t_collate

    def evaluate(epoch: int, loss: float) -> None:
        nonlocal eval_time
        t0 = time.perf_counter()
        val_logits = predict(model, val_batches)
        entry = {"epoch": epoch, "loss": loss,
                 **{f"val_{k}": v for k, v in evaluate_logits(val_logits, y_val).items()}}
        if is_new_best(history, entry, f"val_{select_on}"):
            test_logits = predict(model, test_batches)
            entry.update({f"test_{k}": v for k, v in evaluate_logits(test_logits, y_test).items()})
            entry["val_acc_cal"], entry["test_acc_cal"] = calibrated_accuracy(
                val_logits, y_val, test_logits, y_test)
        eval_time += time.perf_counter() - t0
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)

    if distilled.meta.get("norm_stats") == "set":
        fit_norm_stats(model, distilled, device)
    if eval_at_init:
        evaluate(0, math.nan)
    for epoch in trange(1, epochs + 1, disable=not progress, desc="epochs", leave=False):
        t0 = time.perf_counter()
        loss = train_epoch(model, distilled, optimizer, batch_size, generator, device)
        train_time += time.perf_counter() - t0
        evaluate(epoch, loss)
    best = select_best(history, f"val_{select_on}")
    return FitResult(int(best["epoch"]), _strip(best, "val_"), _strip(best, "test_"), train_time,
                     eval_time, history)


def _strip(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)}
