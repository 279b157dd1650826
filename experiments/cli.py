"""What every command line under ``experiments/`` shares.

One convention for Hydra overrides: they come last, as ``KEY=VALUE`` words exactly as ``run.py``
takes them, after ``--`` when an option that takes a list precedes them::

    python -m experiments.benchmarks.mirage --datasets nci1 dd -- cache_dir=/tmp/c
    python -m experiments.analysis.set_sizes experiment=paper_main arm=mirage dataset=dd
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from omegaconf import DictConfig

if TYPE_CHECKING:
    from mirage.data import GraphDataset
    from mirage.distill.base import DistilledSet

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Add the trailing ``overrides`` (``KEY=VALUE`` words) to ``parser`` and parse ``argv``."""
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="Hydra overrides of the run config, as run.py takes them (after "
                             "-- when a list option precedes them)")
    args = parser.parse_intermixed_args(argv)
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        parser.error(f"{bad[0]!r} is not a KEY=VALUE override")
    return args


def exit_with(main: Callable[[Sequence[str] | None], int],
              argv: Sequence[str] | None = None) -> NoReturn:
    """Exit with ``main(argv)``'s status. Bad input (an override Hydra cannot compose, a value the
    harness refuses) is one ``error:`` line on stderr and status 2, as in ``run.py``, not a
    traceback."""
    from hydra.errors import HydraException

    from mirage.errors import MirageError

    try:
        status = main(argv)
    except (HydraException, MirageError) as err:
        # Hydra ends a missing-option message with its search path, which names no valid value.
        message = str(err).split("Config search path:")[0]
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        status = 2
    raise SystemExit(status)


def describe(doc: str | None) -> str:
    """A module docstring's first paragraph, for ``--help``."""
    return (doc or "").split("\n\n")[0]


def compose(overrides: Sequence[str]) -> DictConfig:
    """The run config ``run.py`` would compose from ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))


def distilled_set(cfg: DictConfig) -> tuple[GraphDataset, DistilledSet]:
    """The data and the distilled set a run of ``cfg`` trains on (``run.py``'s checks and byte
    matching first; the set from the artifact cache, or distilled into it)."""
    from mirage.artifacts import distill_cached
    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.base import DistillContext
    from mirage.study import match_budget, one_draw
    from mirage.validation import validate

    plain = validate(cfg)
    draw = one_draw(cfg)
    match_budget(cfg, plain)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    return data, distill_cached(data, plain["distiller"], draw, plain["dataset"],
                                Path(cfg.cache_dir), DistillContext(model=plain["model"])).data


def sweep(overrides: Sequence[str]) -> int:
    """``python run.py -m <overrides>``; returns its exit status (failed runs are rows too)."""
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", *overrides]
    print("+", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)
