"""Entry point: ``python run.py [overrides]`` or ``python run.py -m key=a,b ...`` (see README)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from mirage.pipeline import run
from mirage.sweep import EXIT_CODE, MEASURING, apply_to_each_option, failure

log = logging.getLogger("mirage")
CONF = Path(__file__).parent / "conf"
single_run: dict[str, Any] = {}  # a single run's failure, reported once Hydra has returned


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> dict[str, Any]:
    """One job. A failure is returned, not raised, so Hydra records the job as ended (its status
    file) and a sweep goes on; the sweep's summary (``mirage.sweep.SweepMonitor``), or
    ``__main__`` below for a single run, reports it and sets the exit code."""
    try:
        run(cfg)
        return {"status": "ok"}
    except Exception as err:
        outcome = failure(err)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.error("job failed, sweep continues: %s", outcome["error"])
        else:
            single_run.update(outcome)
        return outcome


if __name__ == "__main__":
    groups = [p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra"]
    sys.argv = apply_to_each_option(sys.argv, groups)
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted: rows already written are kept; rerun the same command to resume",
              file=sys.stderr)
        sys.exit(130)
    if single_run:
        retry = (" (its seeds are status=failed rows; rerun the same command to retry them)"
                 if single_run["kind"] == MEASURING else "")
        print(f"error: {single_run['error']}{retry}", file=sys.stderr)
        sys.exit(EXIT_CODE[single_run["kind"]])
