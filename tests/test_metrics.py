"""Metrics from logits, and the calibrated decision rule (fitted on validation only)."""

from __future__ import annotations

import pytest
import torch

from mirage.metrics import accuracy, calibrated_accuracy, fit_logit_offsets, roc_auc


def _separable(n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that rank every graph's true class first, labels balanced over ``k`` classes."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    logits = torch.randn(n, k, generator=gen) * 0.1
    logits[torch.arange(n), y] += 1.0
    return logits, y


def test_binary_threshold_recovers_a_shifted_logit() -> None:
    logits, y = _separable(200, 2, seed=0)
    shifted = logits + torch.tensor([0.0, -7.5])  # sum pooling on small samples: one class wins
    assert accuracy(shifted, y) == 0.5 and roc_auc(shifted, y) == 1.0
    b = fit_logit_offsets(shifted, y)
    assert accuracy(shifted + b, y) == 1.0
    assert 6.5 < float(b[1]) < 8.5  # undoes the shift, up to the margin of the data


def test_multiclass_offsets_recover_shifted_logits() -> None:
    logits, y = _separable(300, 4, seed=1)
    shift = torch.tensor([3.0, 0.0, -2.0, 1.0])
    assert accuracy(logits + shift, y) < 0.5
    b = fit_logit_offsets(logits + shift, y)
    assert accuracy(logits + shift + b, y) == 1.0
    assert b[0] == 0


def test_an_uninformative_validation_set_keeps_argmax() -> None:
    logits = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 0, 1])  # every threshold scores 0.5: keep the plain rule
    assert torch.equal(fit_logit_offsets(logits, y), torch.zeros(2))


def test_best_threshold_is_optimal_against_a_brute_force_search() -> None:
    gen = torch.Generator().manual_seed(2)
    logits, y = torch.randn(150, 2, generator=gen), torch.randint(0, 2, (150,), generator=gen)
    best = accuracy(logits + fit_logit_offsets(logits, y), y)
    grid = max(accuracy(logits + torch.tensor([0.0, float(o)]), y)
               for o in torch.linspace(-6, 6, 4001))
    assert best == pytest.approx(grid)
    assert best > accuracy(logits, y)


def test_the_rule_never_sees_test_labels() -> None:
    val, y_val = _separable(100, 2, seed=3)
    test, y_test = _separable(80, 2, seed=4)
    shift = torch.tensor([0.0, -5.0])
    val_acc, test_acc = calibrated_accuracy(val + shift, y_val, test + shift, y_test)
    assert val_acc == 1.0 and test_acc == 1.0
    # Flipped test labels: the same rule (fitted on validation) scores exactly 1 - before.
    val_again, flipped = calibrated_accuracy(val + shift, y_val, test + shift, 1 - y_test)
    assert val_again == val_acc and flipped == 0.0


@pytest.mark.parametrize("k", [2, 3])
def test_auc_of_a_confident_model_is_not_chance(k: int) -> None:
    """Every graph puts class k-1 ahead by about 50 to 120 logits, more where it is the true class:
    its probability rounds to 1.0 in float64 everywhere, so an AUC on probabilities reads 0.5
    for it (all ties), while the ranking is perfect and the AUC must say 1.0."""
    logits, y = _separable(60, k, seed=5)
    logits = logits * 10.0
    logits[:, k - 1] += 60.0 + 60.0 * (y == k - 1)
    prob = torch.softmax(logits.double(), dim=1)[:, k - 1]
    assert bool((prob == 1.0).all())  # the saturation this guards against
    assert roc_auc(logits, y) == 1.0


def test_auc_equals_sklearn_on_probabilities_when_nothing_saturates() -> None:
    from sklearn.metrics import roc_auc_score

    gen = torch.Generator().manual_seed(6)
    for k in (2, 4):
        logits, y = torch.randn(120, k, generator=gen), torch.arange(120) % k
        prob = torch.softmax(logits.double(), dim=1).numpy()
        expected = (roc_auc_score(y.numpy(), prob[:, 1]) if k == 2 else
                    roc_auc_score(y.numpy(), prob, multi_class="ovr", average="macro"))
        assert roc_auc(logits, y) == pytest.approx(expected, abs=1e-12)


def test_accuracy_is_exact() -> None:
    """13 of 19 reads 13/19 in float64 (float32 would write 0.6842105388641357 to the CSV)."""
    y = torch.tensor([1] * 13 + [0] * 6)
    logits = torch.tensor([[0.0, 1.0]] * 19)
    assert accuracy(logits, y) == 13 / 19
    assert repr(accuracy(logits, y)) == "0.6842105263157895"
