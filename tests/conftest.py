"""Shared fixtures: the real configs, a data root, a throw-away cache and results folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from mirage.sources import DOWNLOAD_MARKER

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
TESTS = ROOT / "tests"
# Config options that only tests use (tests/conf/), e.g. distiller=exploding.
PLUGIN_ARGS = (f"hydra.searchpath=[file://{TESTS / 'conf'}]",)


def data_root() -> Path:
    """$MIRAGE_DATA_ROOT, else the offline copies beside the checkout, else ./data (download)."""
    env = os.environ.get("MIRAGE_DATA_ROOT")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "datasets"
    return shared if shared.exists() else ROOT / "data"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a ``run.py`` subprocess: the test data root, W&B off, ``tests/`` on
    the path (for the test-only options of :data:`PLUGIN_ARGS`)."""
    return {**os.environ, "MIRAGE_DATA_ROOT": str(data_root()), "WANDB_MODE": "disabled",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS),
                                                        os.environ.get("PYTHONPATH")])),
            **extra}


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


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.is_dir() else set()


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_DATA_TREE] = _tree(data_root())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The data root is only read: a suite that leaves anything new in it fails (unless the
    root is the harness's own download folder, where downloads belong)."""
    root = data_root()
    if (root / DOWNLOAD_MARKER).is_file() or _DATA_TREE not in session.config.stash:
        return
    new = sorted(_tree(root) - session.config.stash[_DATA_TREE])
    if new:
        print(f"\nFAILED: the tests wrote into the data root {root}: {new[:5]}"
              f"{' ...' if len(new) > 5 else ''}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_DATA_TREE = pytest.StashKey[set[str]]()


@pytest.fixture(autouse=True)
def _fast_tier_reads_no_real_dataset_but_mutag(request: pytest.FixtureRequest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier (``-m "not slow"``) reads MUTAG and synthetic data only: a test that is not
    marked ``slow`` and opens another dataset of the real data root fails, naming it."""
    if request.node.get_closest_marker("slow"):
        return
    from mirage import data

    real_root = data_root().resolve()
    for loader, source in list(data.SOURCES.items()):
        def guarded(cfg, root, show, _source=source):
            if (Path(root).resolve() == real_root and cfg.name != "MUTAG"
                    and any((d / n).exists() for d in real_root.iterdir() if d.is_dir()
                            for n in {cfg.name, cfg.name.replace("-", "_")})):
                pytest.fail(f"{request.node.nodeid} reads {cfg.name} from the real data root: "
                            "mark it slow (the fast tier reads MUTAG and synthetic data only)")
            return _source(cfg, root, show)
        monkeypatch.setitem(data.SOURCES, loader, guarded)
