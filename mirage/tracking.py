"""Weights & Biases, the way its users expect: one W&B run per evaluation seed.

The runs of one (dataset, distiller, model) job share a ``group``; each has the resolved config
(plus its seed), the epoch curve as its history and its CSV row as its summary. A learned
distiller logs its own loss curve the same way, as a run with ``job_type='distill'``. The CSV is
the record; W&B mirrors it, so a disabled or failing W&B never changes a result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from mirage.errors import ConfigError
from mirage.sources import library_output

log = logging.getLogger("mirage")

LogFn = Callable[[dict[str, float]], None]


def _no_op(_: dict[str, float]) -> None:
    return None


def _curve_key(key: str) -> str:
    """History keys in W&B's ``section/metric`` style (``val_auc`` -> ``val/auc``, ``loss`` ->
    ``train/loss``), so the curves never overwrite the row's best-epoch values in the summary."""
    split, sep, metric = key.partition("_")
    if key == "loss":
        return "train/loss"
    return f"{split}/{metric}" if sep and split in ("val", "test") else key


@cache
def _has_credentials() -> bool:
    import wandb

    # No prompt, no network: only whether a key is configured (environment, netrc, settings).
    with library_output(show=False):
        return bool(wandb.login(verify=False, prompt=False))


def check_credentials(cfg: Mapping[str, Any]) -> None:
    """Before any row: W&B online needs an API key. Raise a :class:`ConfigError` that says how
    to log in or to run offline; offline and disabled need nothing."""
    if cfg["mode"] == "online" and not _has_credentials():
        raise ConfigError("logger=wandb logs online, but no W&B API key is configured: run "
                          "`wandb login` (or set WANDB_API_KEY), or log offline with "
                          "WANDB_MODE=offline (upload later with `wandb sync`)")


class WandbTracker:
    """Opens W&B runs for one job; every method is a no-op when ``cfg['mode'] == 'disabled'``.

    ``cfg`` is the ``logger.wandb`` node, ``config`` the resolved run config, ``group`` the job's
    name (``<dataset>-<distiller>-<model>``) unless ``cfg['group']`` sets one.
    """

    def __init__(self, cfg: Mapping[str, Any], config: dict[str, Any], group: str) -> None:
        self.cfg, self.config = cfg, config
        self.group = cfg.get("group") or group
        self.enabled = cfg["mode"] != "disabled"

    @contextmanager
    def run(self, name: str, job_type: str, **config: Any) -> Iterator[Any]:
        """A W&B run for the block; yields it (``None`` when disabled). It finishes when the
        block ends, with exit code 1 when the block raised, so runs never leak into the next
        job of a sweep."""
        if not self.enabled:
            yield None
            return
        import wandb

        Path(self.cfg["dir"]).mkdir(parents=True, exist_ok=True)
        run = wandb.init(project=self.cfg["project"], entity=self.cfg.get("entity"),
                         mode=self.cfg["mode"], group=self.group, job_type=job_type,
                         name=name, dir=self.cfg["dir"], tags=list(self.cfg.get("tags") or []),
                         config={**self.config, **config}, reinit="finish_previous",
                         settings=wandb.Settings(silent=bool(self.cfg.get("silent", True))))
        try:
            yield run
        except BaseException:
            run.finish(exit_code=1)
            raise
        run.finish()

    @contextmanager
    def seed_run(self, seed: int) -> Iterator[tuple[LogFn, Callable[[Mapping[str, Any]], None]]]:
        """One evaluation seed: yields ``(log_epoch, set_summary)``."""
        job_type = self.cfg.get("job_type") or "train"
        with self.run(f"{self.group}-seed{seed}", job_type, seed=seed) as run:
            if run is None:
                yield _no_op, _no_op
                return

            def log_epoch(entry: dict[str, float]) -> None:
                run.log({_curve_key(k): v for k, v in entry.items()}, step=int(entry["epoch"]))

            def set_summary(row: Mapping[str, Any]) -> None:
                run.summary.update({k: v for k, v in row.items()
                                    if isinstance(v, int | float | str | bool)})

            yield log_epoch, set_summary

    def log_curve(self, name: str, job_type: str, curve: list[dict[str, float]]) -> None:
        """A finished curve (a learned distiller's loss per logged iteration) as one run."""
        if not curve:
            return
        with self.run(name, job_type) as run:
            if run is not None:
                for entry in curve:
                    run.log(dict(entry))
