"""Mirage: a benchmark harness for graph dataset distillation (graph classification)."""

__version__ = "0.1.0"
