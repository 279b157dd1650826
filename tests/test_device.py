"""The learned distillers and training on a CUDA device (``device=auto`` on a GPU machine): runs
only where CUDA is present, with synthetic graphs and no dataset files."""

from __future__ import annotations

import pytest
import torch

from baselines.doscond import DosCond
from baselines.herding import Herding
from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistillContext
from mirage.models import build_model
from mirage.synthetic import make_graphs
from mirage.train import train_epoch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

MODEL = {"name": "gin", "conv": "gin", "hidden": 64, "num_layers": 3, "pool": "mean"}


@pytest.fixture(scope="module")
def train() -> TrainSplit:
    return TrainSplit("synthetic", make_graphs(400, 30, 3, seed=0), 2, FeatureSpec((3,)))


@pytest.fixture(scope="module")
def doscond_sets(train: TrainSplit) -> dict:
    """DosCond's set made on the GPU and on the CPU from the same input."""
    return {where: DosCond(gpc=10, iterations=20).distill(
        train, 0, DistillContext(device=torch.device(where))) for where in ("cuda", "cpu")}


def test_doscond_on_the_device_makes_the_cpu_set_shapes_on_the_cpu(doscond_sets: dict) -> None:
    gpu, cpu = doscond_sets["cuda"], doscond_sets["cpu"]
    assert [g.x_soft.shape for g in gpu.samples] == [g.x_soft.shape for g in cpu.samples]
    assert all(g.x_soft.device.type == "cpu" for g in gpu.samples)  # sets leave the device
    assert torch.isfinite(torch.tensor(gpu.meta["final_loss"]))


def test_herding_on_the_device_picks_gpc_graphs_per_class(train: TrainSplit) -> None:
    herd = Herding(gpc=5, epochs=3).distill(
        train, 0, DistillContext(device=torch.device("cuda"), model=MODEL))
    assert torch.bincount(torch.cat([g.y for g in herd.samples])).tolist() == [5, 5]


def test_a_gnn_trains_on_the_device_made_set(train: TrainSplit, doscond_sets: dict) -> None:
    device = torch.device("cuda")
    model = build_model(MODEL, train.features, 2).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [train_epoch(model, doscond_sets["cuda"], opt, 8, torch.Generator().manual_seed(0),
                          device) for _ in range(20)]
    assert losses[-1] < losses[0]
