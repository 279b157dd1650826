"""Entry point: ``python run.py [overrides]`` or ``python run.py -m key=a,b ...`` (see README)."""

from __future__ import annotations

import logging
import sys
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mirage.errors import MirageError
from mirage.pipeline import run

log = logging.getLogger("mirage")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    """One job. In a multirun a failure is returned, not raised, so the sweep goes on; the
    sweep's summary (``mirage.sweep.SweepMonitor``) reports it and sets the exit code."""
    try:
        run(cfg)
        return {"status": "ok"}
    except Exception as err:
        message = str(err) if isinstance(err, MirageError) else f"{type(err).__name__}: {err}"
        message = " ".join(message.split())
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.error("job failed, sweep continues: %s", message)  # and its rows say so
            return {"status": "failed", "error": message}
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2 if isinstance(err, MirageError) else 1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: rows already written are kept; rerun the same command to resume",
              file=sys.stderr)
        sys.exit(130)
