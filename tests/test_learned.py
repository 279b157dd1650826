"""What DosCond and KiDD share (baselines/learned.py): each piece does what both originals do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import compose_cfg
from omegaconf import OmegaConf

from baselines.learned import (
    annealed_temperature,
    check_finite,
    initial_logits,
    relaxed_adjacency,
    symmetric,
)
from mirage.artifacts import distill_cached
from mirage.data import FeatureSpec, GraphDataset
from mirage.distill.base import DistillContext, DistilledSet
from mirage.errors import DistillError
from mirage.synthetic import make_graphs


def test_initial_logits_are_plus_minus_five() -> None:
    adj = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    assert initial_logits(adj).tolist() == [[[-5.0, 5.0], [5.0, -5.0]]]


def test_temperature_falls_from_tau_to_a_floor_of_one_hundredth() -> None:
    assert annealed_temperature(0, 200) == 1.0
    assert annealed_temperature(100, 200) == pytest.approx(0.1)
    assert annealed_temperature(200, 200) == pytest.approx(0.01)
    assert annealed_temperature(5000, 200) == 0.01  # DosCond holds it after `anneal`
    assert annealed_temperature(0, 10, tau=2.0) == 2.0
    assert annealed_temperature(5, 10, tau=2.0) == pytest.approx(2.0 * (0.005 ** 0.5))


@pytest.mark.parametrize("mirror", [False, True])
def test_relaxed_adjacency_noise_is_symmetric_as_each_original_draws_it(mirror: bool) -> None:
    logits = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(0))
    sym, t = symmetric(logits), 0.7
    adj = relaxed_adjacency(sym, t, torch.Generator().manual_seed(1), mirror_noise=mirror)
    u = torch.rand(sym.shape, generator=torch.Generator().manual_seed(1)).clamp(1e-6, 1 - 1e-6)
    draw = torch.log(u) - torch.log(1 - u)
    # KiDD: one draw per edge, the upper triangle mirrored; DosCond: a draw averaged with its
    # transpose.
    noise = draw.triu(1) + draw.triu(1).transpose(1, 2) if mirror else (
        draw + draw.transpose(1, 2)) / 2
    expected = torch.sigmoid((sym + noise) / t) * (1 - torch.eye(5))
    assert torch.allclose(adj, expected, atol=1e-6)
    assert torch.equal(adj, adj.transpose(1, 2)) and adj.diagonal(dim1=1, dim2=2).eq(0).all()


def test_a_diverged_loss_stops_with_where_and_what_to_lower() -> None:
    check_finite(torch.tensor(1.0), "doscond", "iteration 3")
    with pytest.raises(DistillError, match=r"'kidd': the loss became nan at step 7; lower "
                                           r"distiller\.lr_adj"):
        check_finite(torch.tensor(float("nan")), "kidd", "step 7")


@pytest.mark.parametrize(("distiller", "length"), [("doscond", "iterations"), ("kidd", "steps")])
def test_one_set_serves_every_model_and_reloads(tmp_path: Path, distiller: str,
                                                length: str) -> None:
    """A learned set is distilled once for GCN, GIN and GAT, and reloads as it was saved."""
    data = GraphDataset("synthetic", make_graphs(80, 10, 3, seed=0), [], [], 2,
                        FeatureSpec((3,)), "h")
    params = OmegaConf.to_container(compose_cfg([f"distiller={distiller}"]).distiller,
                                    resolve=True)
    params[length] = 3
    hits = []
    for model in ("gcn", "gin", "gat"):
        cfg = compose_cfg([f"model={model}", f"distiller={distiller}"])
        ctx = DistillContext(model=OmegaConf.to_container(cfg.model, resolve=True))
        hits.append(distill_cached(data, params, 0, {"name": "synthetic"}, tmp_path, ctx))
    assert [h.cache_hit for h in hits] == [False, True, True]
    assert len({h.key for h in hits}) == 1
    (path,) = (tmp_path / "distilled").glob(f"{distiller}-*.pt")
    back = DistilledSet.load(path)  # weights_only=True inside
    assert torch.equal(back.samples[0].x_soft, hits[0].data.samples[0].x_soft)
