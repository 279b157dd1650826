"""No distiller can read validation or test graphs: every one configured under conf/distiller/
distils through the pipeline a dataset whose validation and test splits explode when touched."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
import torch
from conftest import CONF, compose_cfg
from omegaconf import OmegaConf

from mirage.artifacts import distill_cached
from mirage.data import FeatureSpec, GraphDataset
from mirage.distill.base import DistillContext
from mirage.synthetic import make_graphs

DISTILLERS = sorted(p.stem for p in (CONF / "distiller").glob("*.yaml"))


class Tripwire:
    """Stands in for the validation / test graphs: any use of it fails the test."""

    def _touched(self, *args: object) -> NoReturn:
        raise AssertionError("the distiller read validation or test graphs")

    __iter__ = __len__ = __getitem__ = __bool__ = __add__ = __radd__ = __contains__ = _touched


def _dataset(val: object, test: object) -> GraphDataset:
    train = make_graphs(60, 10, 3, seed=0)
    return GraphDataset("synthetic", train, val, test, 2, FeatureSpec((3,)), "h")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", DISTILLERS)
def test_distillers_never_see_validation_or_test(name: str, tmp_path: Path) -> None:
    cfg = compose_cfg([f"distiller={name}", "dataset=synthetic"])
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    # Learned distillers: a few steps show what they read as well as a thousand do.
    params.update({k: 3 for k in ("iterations", "epochs", "steps") if k in params})
    dataset_cfg = OmegaConf.to_container(cfg.dataset, resolve=True)
    ctx = DistillContext(model=OmegaConf.to_container(cfg.model, resolve=True))
    guarded = distill_cached(_dataset(Tripwire(), Tripwire()), params, 0, dataset_cfg,
                             tmp_path / "a", ctx)
    plain = distill_cached(_dataset(make_graphs(8, 10, 3, seed=1), make_graphs(8, 10, 3, seed=2)),
                           params, 0, dataset_cfg, tmp_path / "b", ctx)
    assert guarded.data.num_graphs == plain.data.num_graphs > 0
    for a, b in zip(guarded.data.samples, plain.data.samples, strict=True):
        assert sorted(a.keys()) == sorted(b.keys())
        for key in a.keys():  # noqa: SIM118
            if isinstance(a[key], torch.Tensor):
                assert torch.equal(a[key], b[key]), key


def test_every_distiller_config_names_its_class() -> None:
    from mirage.distill.base import Distiller, distiller_class

    for name in DISTILLERS:
        cfg = OmegaConf.load(CONF / "distiller" / f"{name}.yaml")
        assert cfg.name == name and issubclass(distiller_class(cfg._target_), Distiller)


@pytest.mark.parametrize("name", DISTILLERS)
def test_every_distiller_is_deterministic_and_reloads_from_the_cache(name: str,
                                                                     tmp_path: Path) -> None:
    """Same seed, same set; the cached set reloads as it was made; a cache hit the second time."""
    cfg = compose_cfg([f"distiller={name}", "dataset=synthetic"])
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    params.update({k: 3 for k in ("iterations", "epochs", "steps") if k in params})
    dataset_cfg = OmegaConf.to_container(cfg.dataset, resolve=True)
    ctx = DistillContext(model=OmegaConf.to_container(cfg.model, resolve=True))
    data = _dataset(make_graphs(8, 10, 3, seed=1), make_graphs(8, 10, 3, seed=2))
    made = distill_cached(data, params, 0, dataset_cfg, tmp_path / "a", ctx)
    again = distill_cached(data, params, 0, dataset_cfg, tmp_path / "b", ctx)
    hit = distill_cached(data, params, 0, dataset_cfg, tmp_path / "a", ctx)
    assert (made.cache_hit, again.cache_hit, hit.cache_hit) == (False, False, True)
    for other in (again, hit):
        for a, b in zip(made.data.samples, other.data.samples, strict=True):
            assert sorted(a.keys()) == sorted(b.keys())
            for key in a.keys():  # noqa: SIM118
                if isinstance(a[key], torch.Tensor):
                    assert torch.equal(a[key], b[key]), (name, key)
