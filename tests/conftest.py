"""Shared fixtures: the real configs, a data root, a throw-away cache and results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def data_root() -> Path:
    """$MIRAGE_DATA_ROOT, else the offline copies beside the checkout, else ./data (download)."""
    env = os.environ.get("MIRAGE_DATA_ROOT")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "datasets"
    return shared if shared.exists() else ROOT / "data"


def compose_cfg(overrides: list[str] | None = None) -> DictConfig:
    """Compose the project's real config tree with ``overrides`` (as on the command line)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=overrides or [])


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One processed-dataset cache for the whole session (datasets process once)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def run_cfg(tmp_path: Path, shared_cache: Path):
    """Compose a run config that writes into tmp folders and reads the real data."""

    def make(*overrides: str) -> DictConfig:
        return compose_cfg([f"data_root={data_root()}", f"cache_dir={shared_cache}",
                            f"results_dir={tmp_path / 'results'}", "progress=false",
                            *overrides])

    return make
