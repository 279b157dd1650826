"""Entry point: ``python run.py [overrides]`` or ``python run.py -m key=a,b ...`` (see README)."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mirage.errors import MirageError
from mirage.pipeline import run

log = logging.getLogger("mirage")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except Exception as err:
        message = f"{type(err).__name__}: {err}" if not isinstance(err, MirageError) else str(err)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.error("run failed, sweep continues: %s", message)  # its row says status=failed
            return
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        sys.exit(2 if isinstance(err, MirageError) else 1)


if __name__ == "__main__":
    main()
