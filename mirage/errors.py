"""Errors that carry a one-line, user-facing message."""


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
