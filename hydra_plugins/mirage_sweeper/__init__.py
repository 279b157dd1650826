"""Hydra's basic sweeper, with every job's input checked before the first job runs.

Hydra instantiates sweepers only from the ``hydra_plugins`` namespace, hence this package; the
checks are :func:`mirage.sweep.check_sweep`. Selected by ``conf/hydra/sweeper/checked.yaml``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

from mirage.sweep import JobBar, check_sweep


class CheckedSweeper(BasicSweeper):
    """Composes every job of a batch, as the basic sweeper does, and also makes the harness's
    input checks on each: any problem ends the sweep before it starts, one line per problem on
    stderr and exit status 2 (no job runs, no row is written)."""

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        problems = check_sweep(self.hydra_context.config_loader, self.config, batch)
        if problems:
            JobBar.stop()  # the sweep ends before its jobs
            for line in problems:
                print(f"error: {line}", file=sys.stderr)
            sys.exit(2)
