"""The training loop (model selection) and model options, on synthetic graphs."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from mirage.data import FeatureSpec
from mirage.distill.base import DistilledSet
from mirage.metrics import evaluate_logits
from mirage.models import GNN, FeatureEncoder
from mirage.synthetic import make_graphs
from mirage.train import collate, fit, predict, select_best

NAN = math.nan


def test_best_is_the_earliest_maximum_and_skips_nan() -> None:
    history = [{"epoch": e, "val_auc": v} for e, v in enumerate([NAN, 0.6, 0.8, 0.8, 0.7])]
    assert select_best(history, "val_auc")["epoch"] == 2
    assert select_best([{"epoch": 1, "val_auc": NAN}, {"epoch": 2, "val_auc": NAN}],
                 "val_auc")["epoch"] == 1


def _flipped(graphs: list) -> list:
    """The same graphs with the other binary label: every test metric mirrors validation's."""
    out = [copy.copy(g) for g in graphs]
    for g in out:
        g.y = 1 - g.y
    return out


def test_reported_epoch_is_chosen_on_validation_never_on_test() -> None:
    train, val = make_graphs(40, 8, 3, seed=0), make_graphs(60, 8, 3, seed=1)
    test = _flipped(val)  # test AUC = 1 - val AUC: the best validation epoch is the worst test one
    torch.manual_seed(0)
    model = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
    result = fit(model, DistilledSet(train), val, test, epochs=8, batch_size=8, lr=1e-2,
                 weight_decay=0.0, eval_batch_size=64, select_on="auc", seed=0,
                 device=torch.device("cpu"))
    val_auc = [h["val_auc"] for h in result.history]
    assert max(val_auc) - min(val_auc) > 0.05  # selection matters here
    chosen = val_auc.index(max(val_auc))  # the earliest best validation epoch
    assert result.best_epoch == result.history[chosen]["epoch"]
    assert result.test["auc"] == result.history[chosen]["test_auc"]
    assert result.test["auc"] == pytest.approx(1 - max(val_auc))  # the worst test epoch
    # Test is scored only where validation sets a new best: no test curve exists to select on.
    scored = [h for h in result.history if "test_auc" in h]
    running = [max(val_auc[:i + 1]) for i in range(len(val_auc))]
    assert [h["epoch"] for h in scored] == [
        h["epoch"] for i, h in enumerate(result.history) if i == 0 or val_auc[i] > running[i - 1]]
    assert len(scored) < len(result.history)
    # Calibrated accuracy: a rule fitted on validation can only help validation, and on the
    # mirrored test set it scores exactly 1 - validation; fitted on test it would be the reverse.
    for h in scored:
        assert h["val_acc_cal"] >= h["val_acc"]
        assert h["test_acc_cal"] == pytest.approx(1 - h["val_acc_cal"], abs=1e-6)
    assert any(h["val_acc_cal"] > h["val_acc"] for h in scored)


@pytest.mark.parametrize("eval_at_init", [False, True])
def test_eval_at_init_adds_the_untrained_model_as_epoch_0(eval_at_init: bool) -> None:
    train, val = make_graphs(16, 8, 3, seed=0), make_graphs(24, 8, 3, seed=1)
    torch.manual_seed(0)
    model = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
    untrained = copy.deepcopy(model)
    result = fit(model, DistilledSet(train), val, val, epochs=3, batch_size=8, lr=1e-2,
                 weight_decay=0.0, eval_batch_size=64, select_on="auc", seed=0,
                 device=torch.device("cpu"), eval_at_init=eval_at_init)
    epochs = [h["epoch"] for h in result.history]
    assert epochs == ([0] if eval_at_init else []) + [1, 2, 3]
    best = select_best(result.history, "val_auc")
    assert result.best_epoch == best["epoch"] and result.val["auc"] == best["val_auc"]
    if eval_at_init:
        y = torch.cat([g.y for g in val])
        expected = evaluate_logits(predict(untrained, collate(val, 64, torch.device("cpu"))), y)
        assert result.history[0]["val_auc"] == pytest.approx(expected["auc"])
        assert math.isnan(result.history[0]["loss"])


def test_layer_dropout_acts_in_training_only() -> None:
    graphs = make_graphs(4, 8, 3, seed=2)
    batch = collate(graphs, 4, torch.device("cpu"))[0]
    torch.manual_seed(0)
    plain = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
    dropped = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2,
                  layer_dropout=0.5)
    dropped.load_state_dict(plain.state_dict())
    plain.eval()
    dropped.eval()
    assert torch.allclose(plain(batch), dropped(batch))
    plain.train()
    dropped.train()
    torch.manual_seed(1)
    assert not torch.allclose(plain(batch), dropped(batch))


@pytest.mark.parametrize("conv", ["gin", "gat"])
def test_xavier_embedding_init_matches_ogb_encoders(conv: str) -> None:
    """OGB's AtomEncoder and BondEncoder draw every table Xavier-uniform: |w| <= sqrt(6/(n+d))."""
    spec = FeatureSpec((119, 5), 0, (5, 3))
    torch.manual_seed(0)
    xavier = GNN(conv, spec, num_classes=2, hidden=128, num_layers=2, embedding_init="xavier")
    torch.manual_seed(0)
    normal = GNN(conv, spec, num_classes=2, hidden=128, num_layers=2)
    tables = [*xavier.encoder.embeddings, *xavier.edge_encoders[0].embeddings]
    for emb in tables:
        bound = math.sqrt(6.0 / sum(emb.weight.shape))
        assert emb.weight.abs().max() <= bound
        assert emb.weight.abs().max() > 0.9 * bound  # drawn over the whole range, not zeroed
    assert normal.encoder.embeddings[0].weight.std() > 0.9  # PyTorch's N(0, 1) default


def test_feature_encoder_sums_one_embedding_per_column() -> None:
    """The stacked bag-sum is OGB's AtomEncoder: column i of x indexes table i, values and
    gradients alike (a wrong column offset reads another column's table)."""
    torch.manual_seed(0)
    enc = FeatureEncoder((7, 3, 5), 0, hidden=8)
    x = torch.stack([torch.randint(0, c, (50,)) for c in (7, 3, 5)], dim=1)
    out = enc(x)
    expected = sum(emb(x[:, i]) for i, emb in enumerate(enc.embeddings))
    assert torch.equal(out, expected)
    out.sum().backward()
    counts = torch.bincount(x[:, 1], minlength=3).float()
    assert torch.equal(enc.embeddings[1].weight.grad[:, 0], counts)


def test_gin_mlp_ratio_sets_the_inner_width() -> None:
    model = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2, mlp_ratio=2)
    assert [conv.nn[0].out_features for conv in model.convs] == [32, 32]
    batch = collate(make_graphs(4, 8, 3, seed=3), 4, torch.device("cpu"))[0]
    assert model(batch).shape == (4, 2)


@pytest.mark.parametrize("frozen", [False, True])
def test_a_set_with_frozen_norm_trains_with_batchnorm_at_its_initial_statistics(
        frozen: bool) -> None:
    """meta["frozen_norm"]: GIN's BatchNorms keep their initial running statistics (so test
    normalises as training did), while their affine weights still learn; without it the
    statistics follow the set's nodes."""
    from mirage.train import train_epoch

    model = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
    meta = {"frozen_norm": True} if frozen else {}
    ds = DistilledSet(make_graphs(16, 8, 3, seed=0), meta=meta)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    before = [(n.running_mean.clone(), n.weight.detach().clone()) for n in norms]
    train_epoch(model, ds, torch.optim.Adam(model.parameters(), lr=1e-2), 8,
                torch.Generator().manual_seed(0), torch.device("cpu"))
    assert norms and all(not torch.equal(w, n.weight) for (_, w), n in zip(before, norms,
                                                                            strict=True))
    still = [torch.equal(m, n.running_mean) for (m, _), n in zip(before, norms, strict=True)]
    assert all(still) if frozen else not any(still)


def test_norm_stats_set_freezes_the_statistics_of_the_set_under_the_initial_weights() -> None:
    """meta["norm_stats"]="set": before the first epoch every BatchNorm's running statistics
    become the set's nodes' (their inputs under the untrained weights, all samples at once) and
    stay so through training; goes red when left at the identity, fitted on part of the set, or
    let follow the set."""
    graphs = make_graphs(12, 8, 3, seed=0)
    torch.manual_seed(0)
    model = GNN("gin", FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    inputs: list[torch.Tensor] = []
    hooks = [n.register_forward_pre_hook(lambda _, args: inputs.append(args[0].detach()))
             for n in norms]
    with torch.no_grad():
        model.eval()
        model(collate(graphs, len(graphs), torch.device("cpu"))[0])
    for h in hooks:
        h.remove()
    ds = DistilledSet(graphs, meta={"frozen_norm": True, "norm_stats": "set"})
    fit(model, ds, graphs[:4], graphs[4:8], epochs=2, batch_size=4, lr=1e-2, weight_decay=0.0,
        eval_batch_size=8, select_on="auc", seed=0, device=torch.device("cpu"))
    # Eval-mode inputs equal train-mode ones until the first BatchNorm, and the statistics of
    # each layer are those of its inputs as the (fitted) earlier layers transform them.
    assert torch.allclose(norms[0].running_mean, inputs[0].mean(0), atol=1e-5)
    assert torch.allclose(norms[0].running_var, inputs[0].var(0), atol=1e-4)
    assert not torch.allclose(norms[0].running_var, torch.ones(16))
    assert all(int(n.num_batches_tracked) == 1 for n in norms)  # one pass, none in training


@pytest.mark.parametrize("conv", ["gcn", "gat"])
def test_norm_stats_leave_a_gnn_without_batchnorm_as_it_was(conv: str) -> None:
    """GCN and GAT have no BatchNorm: a set's ``norm_stats`` must not change how they train
    (the generic rules that differ only there share their GCN and GAT scores); goes red if
    fitting the statistics touches a weight."""
    graphs = make_graphs(12, 8, 3, seed=0)
    runs = []
    for meta in ({"frozen_norm": True}, {"frozen_norm": True, "norm_stats": "set"}):
        torch.manual_seed(0)
        model = GNN(conv, FeatureSpec((3,)), num_classes=2, hidden=16, num_layers=2)
        result = fit(model, DistilledSet(graphs, meta=meta), graphs[:4], graphs[4:8], epochs=3,
                     batch_size=4, lr=1e-2, weight_decay=0.0, eval_batch_size=8,
                     select_on="auc", seed=0, device=torch.device("cpu"))
        runs.append(([h["loss"] for h in result.history[1:]], model.state_dict()))
    (loss_a, state_a), (loss_b, state_b) = runs
    assert loss_a == loss_b
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
