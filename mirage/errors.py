"""Errors that carry a one-line, user-facing message."""


class MirageError(Exception):
    """Base class: the message names the offending key or path and what would be valid."""


class ConfigError(MirageError):
    """A configuration value is unknown, out of range or inconsistent."""


class DataError(MirageError):
    """A data folder is missing, empty or corrupt."""


class DistillError(MirageError):
    """A distiller's optimisation failed (e.g. its loss turned NaN); the run is recorded failed."""
