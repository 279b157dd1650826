"""Run the learned distillers on a device (CUDA) and check their output: a smoke test for
``device=auto`` on a GPU machine, with no dataset files and no Hydra (synthetic graphs).

Usage: ``python -m experiments.check_device [--device cuda] [--graphs 2000] [--nodes 30]``

Prints seconds per DosCond iteration on the device and on the CPU for the same input, and checks
that both sets have the same shapes, that herding picks ``gpc`` graphs per class there, and that a
GNN trains on the device-made set.
"""

from __future__ import annotations

import argparse
import time

import torch

from baselines.doscond import DosCond
from baselines.herding import Herding
from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistillContext
from mirage.models import build_model
from mirage.synthetic import make_graphs
from mirage.train import train_epoch

MODEL = {"name": "gin", "conv": "gin", "hidden": 64, "num_layers": 3, "pool": "mean"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--graphs", type=int, default=2000)
    p.add_argument("--nodes", type=int, default=30)
    p.add_argument("--iterations", type=int, default=50)
    args = p.parse_args()
    device = torch.device(args.device)
    train = TrainSplit("synthetic", make_graphs(args.graphs, args.nodes, 3, seed=0), 2,
                       FeatureSpec((3,)))
    seconds, sets = {}, {}
    for where in (device, torch.device("cpu")):
        t0 = time.perf_counter()
        sets[where.type] = DosCond(gpc=10, iterations=args.iterations).distill(
            train, 0, DistillContext(device=where))
        seconds[where.type] = (time.perf_counter() - t0) / args.iterations
    a, b = sets[device.type], sets["cpu"]
    assert [g.x_soft.shape for g in a.samples] == [g.x_soft.shape for g in b.samples]
    assert all(g.x_soft.device.type == "cpu" for g in a.samples)
    print(f"doscond s/iteration: {device.type} {seconds[device.type]:.4f}, cpu "
          f"{seconds['cpu']:.4f}; final loss {a.meta['final_loss']:.4g} vs "
          f"{b.meta['final_loss']:.4g}")
    herd = Herding(gpc=5, epochs=3).distill(train, 0, DistillContext(device=device, model=MODEL))
    assert torch.bincount(torch.cat([g.y for g in herd.samples])).tolist() == [5, 5]
    model = build_model(MODEL, train.features, 2).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [train_epoch(model, a, opt, 8, torch.Generator().manual_seed(0), device)
              for _ in range(20)]
    print(f"GIN on the {device.type}-made set: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    assert losses[-1] < losses[0]
    print("device check passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
