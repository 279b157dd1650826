"""Herding: the greedy rule against brute force, per-class budgets, determinism, per-model sets."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from conftest import compose_cfg
from omegaconf import OmegaConf

from baselines.herding import Herding, herd
from mirage.artifacts import distill_cached
from mirage.data import FeatureSpec, GraphDataset, TrainSplit
from mirage.distill.base import DistillContext
from mirage.pipeline import run
from mirage.synthetic import make_graphs


def _brute_force(points: list[list[float]], k: int) -> list[int]:
    """Herding spelled out: at each step try every unpicked point, keep the one whose addition
    brings the running mean closest to the mean (first on ties)."""
    n, d = len(points), len(points[0])
    mean = [sum(p[j] for p in points) / n for j in range(d)]
    picked: list[int] = []
    for step in range(1, k + 1):
        best, best_dist = -1, float("inf")
        for i in range(n):
            if i in picked:
                continue
            running = [(sum(points[q][j] for q in picked) + points[i][j]) / step
                       for j in range(d)]
            dist = sum((running[j] - mean[j]) ** 2 for j in range(d))
            if dist < best_dist - 1e-12:
                best, best_dist = i, dist
        picked.append(best)
    return picked


def test_herd_equals_brute_force() -> None:
    gen = torch.Generator().manual_seed(0)
    for n, d, k in itertools.product((5, 12), (2, 7), (1, 4)):
        points = torch.randn(n, d, generator=gen)
        assert herd(points, k) == _brute_force(points.tolist(), k)
    # The first pick is the point nearest the mean.
    points = torch.tensor([[0.0], [10.0], [4.0], [6.0]])
    assert herd(points, 2) == [2, 3] or herd(points, 2) == [3, 2]
    assert herd(points, 9) == sorted(herd(points, 9), key=herd(points, 9).index)  # all, once
    assert sorted(herd(points, 9)) == [0, 1, 2, 3]


def _train() -> TrainSplit:
    return TrainSplit("synthetic", make_graphs(60, 10, 3, seed=0), 2, FeatureSpec((3,)))


def test_gpc_per_class_and_deterministic() -> None:
    cfg = compose_cfg(["model=gcn", "distiller=herding"])
    ctx = DistillContext(model=OmegaConf.to_container(cfg.model, resolve=True))
    first = Herding(gpc=4, epochs=3).distill(_train(), seed=0, ctx=ctx)
    labels = torch.cat([g.y for g in first.samples])
    assert torch.bincount(labels).tolist() == [4, 4]
    again = Herding(gpc=4, epochs=3).distill(_train(), seed=0, ctx=ctx)
    assert first.meta["train_indices"] == again.meta["train_indices"]


def test_a_herding_set_is_per_model(tmp_path: Path) -> None:
    data = GraphDataset("synthetic", _train().graphs, [], [], 2, FeatureSpec((3,)), "h")
    params = {"_target_": "baselines.herding.Herding", "name": "herding", "gpc": 3, "epochs": 2}
    keys = {}
    for model in ("gcn", "gin", "gcn"):
        cfg = compose_cfg([f"model={model}", "distiller=herding"])
        ctx = DistillContext(model=OmegaConf.to_container(cfg.model, resolve=True))
        out = distill_cached(data, params, 0, {"name": "synthetic"}, tmp_path, ctx)
        keys.setdefault(model, []).append((out.key, out.cache_hit))
    assert keys["gcn"][0][0] != keys["gin"][0][0]
    assert [hit for _, hit in keys["gcn"]] == [False, True]  # the same model hits its own set


def test_herding_end_to_end(run_cfg) -> None:
    rows = run(run_cfg("distiller=herding", "distiller.gpc=5", "distiller.epochs=5",
                       "model=gin", "seeds=[0]", "train.epochs=3"))
    assert rows[0]["status"] == "ok" and rows[0]["distilled_graphs"] == 10
