"""Errors that carry a one-line, user-facing message.

Two kinds reach the user. Bad input (:class:`ConfigError`, :class:`DataError`, raised before
anything is measured) writes no row and exits with status 2: rerunning cannot fix it.
:class:`MeasurementError` wraps whatever failed while distilling, training or evaluating: its
seeds were recorded as ``status=failed`` rows, and rerunning the same command retries them.
"""


class MirageError(Exception):
    """Base class: the message names the offending key or path and what would be valid."""


class ConfigError(MirageError):
    """A configuration value is unknown, out of range or inconsistent."""


class DataError(MirageError):
    """A data folder is missing, empty or corrupt."""


class DistillError(MirageError):
    """A distiller's optimisation failed (e.g. its loss turned NaN); the run is recorded failed."""


class InfeasibleError(ConfigError):
    """The settings ask for what the data cannot give (a byte budget below the smallest set the
    distiller makes): an outcome of the configuration, recorded as ``status='infeasible'`` and
    not retried by resume, rather than a failure."""


class MeasurementError(MirageError):
    """A run failed after its input was checked; its unmeasured seeds are ``status=failed`` rows.
    The original exception is ``__cause__``."""
