"""KiDD: the kernel against a slow per-pair reference, the KRR loss, budgets, initial choices,
the low-rank option, determinism, persistence, bad settings, and one set for every GNN."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import compose_cfg
from omegaconf import OmegaConf

import baselines.kidd as kidd
from baselines.herding import kcenter
from baselines.kidd import (
    EPS,
    DenseSide,
    KiDD,
    SparseSide,
    initial_choice,
    lite_ntk,
)
from baselines.learned import RealGraphs, csr, one_hot_features
from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistillContext, build_distiller
from mirage.errors import ConfigError
from mirage.pipeline import run
from mirage.synthetic import make_graphs

SPEC = FeatureSpec((3,))


def _train(n: int = 120) -> TrainSplit:
    return TrainSplit("synthetic", make_graphs(n, 10, 3, seed=0), 2, SPEC)


def _reference(a1: torch.Tensor, x1: torch.Tensor, a2: torch.Tensor, x2: torch.Tensor,
               layers: int, eps: float) -> float:
    """LiteNTK of one pair of graphs, written out as the paper states it (float64)."""
    a1 = a1.double() + eps * torch.eye(len(a1), dtype=torch.double)
    a2 = a2.double() + eps * torch.eye(len(a2), dtype=torch.double)
    x1, x2 = x1.double(), x2.double()
    sigma = a1 @ (x1 @ x2.T + eps) @ a2.T
    d1 = torch.diagonal(a1 @ (x1 @ x1.T + eps) @ a1.T)
    d2 = torch.diagonal(a2 @ (x2 @ x2.T + eps) @ a2.T)
    ntk = torch.zeros_like(sigma)
    for i in range(len(d1)):
        for j in range(len(d2)):
            s = math.sqrt(d1[i] * d2[j])
            rho = min(max(float(sigma[i, j]) / s, -0.9999), 0.9999)
            theta = math.pi - math.acos(rho)
            ntk[i, j] = (sigma[i, j] * theta / math.pi
                         + (rho * theta + math.sqrt(1 - rho * rho)) / math.pi * s)
    for _ in range(layers - 1):
        ntk = a1 @ ntk @ a2.T
    return float(ntk.mean())


def _dense(graphs: list, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, adjs = [], []
    for g in graphs:
        x = torch.zeros(n, 3)
        x[: g.num_nodes] = one_hot_features(g, SPEC)
        a = torch.zeros(n, n)
        a[g.edge_index[0], g.edge_index[1]] = 1.0
        xs.append(x)
        adjs.append(a)
    return torch.stack(xs), torch.stack(adjs)


@pytest.mark.parametrize("eps", [EPS, 0.5])  # 0.5: the offsets' terms are large enough to see
def test_kernel_equals_the_per_pair_reference_and_is_psd(monkeypatch: pytest.MonkeyPatch,
                                                         eps: float) -> None:
    monkeypatch.setattr(kidd, "EPS", eps)
    graphs = make_graphs(7, 6, 3, seed=3)
    n = max(g.num_nodes for g in graphs)
    real_graphs, syn_graphs = graphs[:4], graphs[4:]
    real = RealGraphs.collate(real_graphs, SPEC, torch.device("cpu"), loop_weight=eps,
                              gcn_norm=False, propagate=False)
    x, src, dst, w, batch = real.batch(torch.arange(4))
    sparse = SparseSide(x, csr(src, dst, w, len(x)), batch, 4)
    xs, adjs = _dense(syn_graphs, n)
    syn = DenseSide(xs, adjs)
    for layers in (1, 3):
        k_ts = lite_ntk(sparse, syn, layers)
        assert k_ts.shape == (4, 3)
        for i, g in enumerate(real_graphs):
            a = torch.zeros(g.num_nodes, g.num_nodes)
            a[g.edge_index[0], g.edge_index[1]] = 1.0
            for j in range(3):
                # padding nodes are nodes of the synthetic graph (isolated, zero features)
                ref = _reference(a, one_hot_features(g, SPEC), adjs[j], xs[j], layers, eps)
                assert math.isclose(float(k_ts[i, j]), ref, rel_tol=1e-4), (layers, i, j)
    k_ss = lite_ntk(syn, syn, 3)
    for i in range(3):
        for j in range(3):
            ref = _reference(adjs[i], xs[i], adjs[j], xs[j], 3, eps)
            assert math.isclose(float(k_ss[i, j]), ref, rel_tol=1e-4), (i, j)
    assert torch.allclose(k_ss, k_ss.T, rtol=1e-5)
    assert torch.linalg.eigvalsh(k_ss.double()).min() > -1e-6 * k_ss.abs().max()


def test_fused_relu_layer_gradient() -> None:
    """The ReLU layer's hand-written backward agrees with finite differences, inside and
    beyond the +-0.9999 clip."""
    rho = torch.tensor([-1.2, -0.9, -0.3, 0.0, 0.4, 0.95, 1.05], dtype=torch.double)
    assert torch.autograd.gradcheck(kidd.ReluNTK.apply, (rho.requires_grad_(),))


def test_krr_loss_decreases_and_gpc_graphs_per_class() -> None:
    curve: list[dict[str, float]] = []
    out = KiDD(gpc=3, steps=40, lr_feat=0.01, lr_adj=0.1, log_every=1).distill(
        _train(), seed=0, ctx=DistillContext(log=curve.append))
    krr = [c["krr"] for c in curve]
    assert len(krr) == 40
    assert sum(krr[-10:]) / 10 < 0.9 * sum(krr[:10]) / 10, krr
    labels = [int(g.y) for g in out.samples]
    assert sorted(labels) == [0, 0, 0, 1, 1, 1]
    mean_nodes = round(sum(g.num_nodes for g in _train().graphs) / 120)
    assert {g.num_nodes for g in out.samples} == {mean_nodes * 2}


def test_a_seed_makes_a_run_deterministic() -> None:
    def once(seed: int) -> list[torch.Tensor]:
        out = KiDD(gpc=2, steps=5, lr_adj=0.5, lr_feat=0.05, init="random").distill(
            _train(), seed=seed)
        return [t for g in out.samples for t in (g.edge_index, g.x_soft)]

    first, again, other = once(0), once(0), once(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(a.shape == b.shape and torch.equal(a, b)
                   for a, b in zip(first, other, strict=True))


def test_initial_choices_on_the_split() -> None:
    points = torch.tensor([[0.0], [1.0], [10.0], [11.0], [5.0]])
    assert kcenter(points, 3) == [4, 3, 0]  # nearest the mean (5.4), then farthest-first
    labels = torch.tensor([0, 0, 1, 1, 1])
    gen = torch.Generator().manual_seed(0)
    for how in ("herding", "kcenter", "random"):
        chosen = initial_choice(points, labels, 2, how, gen)
        assert [int(labels[i]) for i in chosen] == [0, 0, 1, 1]
        assert len(set(chosen)) == 4
    # a class smaller than gpc repeats its graphs
    assert sorted(initial_choice(points, labels, 3, "herding", gen)[:3]) == [0, 0, 1]


def test_low_rank_keeps_its_rank() -> None:
    kidd = KiDD(gpc=2, steps=5, lr_adj=0.05, lr_feat=0.01, rank=3)
    a0 = (torch.rand(4, 12, 12) > 0.7).float()
    u, v = kidd._structure(a0)
    assert u.shape == (4, 12, 3) and v.shape == (4, 3, 12)
    assert int(torch.linalg.matrix_rank(u[0] @ v[0])) <= 3
    full = KiDD(gpc=2, steps=1, rank=12)._structure(a0)
    assert torch.allclose(full[0] @ full[1], a0, atol=1e-4)  # full rank: the SVD is exact
    out = kidd.distill(_train(), seed=0)
    assert out.meta["rank"] == 3 and out.num_graphs == 4


@pytest.mark.parametrize("key,value", [("gpc", 0), ("steps", 0), ("rank", 0), ("rank", -2),
                                       ("lr_adj", -1e-3), ("lr_feat", -1), ("tau", 0),
                                       ("node_multiplier", 0), ("init", "best"),
                                       ("syn_batch", 0)])
def test_bad_settings_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"distiller\.{key}"):
        build_distiller({"_target_": "baselines.kidd.KiDD", "name": "kidd", key: value})


def test_per_budget_settings() -> None:
    params = OmegaConf.to_container(compose_cfg(
        ["distiller=kidd", "dataset=ogbg_molbace", "distiller.gpc=50"]).distiller)
    kidd = build_distiller(params)
    assert (kidd.init, kidd.node_multiplier) == ("herding", 2)
    params["gpc"] = 5
    with pytest.raises(ConfigError, match=r"distiller\.\w+ has no value for gpc=5"):
        build_distiller(params)
    with pytest.raises(ConfigError, match="both 0"):
        KiDD(lr_adj=0, lr_feat=0).distill(_train(), seed=0)



@pytest.mark.parametrize("model", ["gcn", "gin", "gat"])
@pytest.mark.slow
def test_learned_set_trains_every_gnn_on_mutag(run_cfg, model: str) -> None:
    rows = run(run_cfg("distiller=kidd", "distiller.steps=3", f"model={model}", "seeds=[0]",
                       "train.epochs=3"))
    assert rows[0]["status"] == "ok" and rows[0]["distilled_graphs"] == 2
    assert 0.0 <= rows[0]["test_auc"] <= 1.0


@pytest.mark.slow
def test_multi_class_continuous_attributes_and_imdb(run_cfg) -> None:
    graphs = make_graphs(90, 10, 3, seed=3)
    for i, g in enumerate(graphs):
        g.y = torch.tensor([i % 3])
        g.x_cont = torch.randn(g.num_nodes, 2) * 5  # continuous columns: learned, not clamped
    out = KiDD(gpc=2, steps=3, lr_feat=0.5).distill(
        TrainSplit("three", graphs, 3, FeatureSpec((3,), 2)), seed=0)
    assert torch.bincount(torch.cat([g.y for g in out.samples])).tolist() == [2, 2, 2]
    assert all(float(g.x_soft.min()) >= 0 and float(g.x_soft.max()) <= 1 for g in out.samples)
    assert max(float(g.x_cont.abs().max()) for g in out.samples) > 1
    # IMDB-B (degree features, no node labels): the original had no recipe; ours runs.
    rows = run(run_cfg("dataset=imdb_b", "distiller=kidd", "distiller.steps=3", "model=gin",
                       "seeds=[0]", "train.epochs=2"))
    assert rows[0]["status"] == "ok" and rows[0]["distilled_graphs"] == 2
