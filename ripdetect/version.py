"""The library version: one place, read by the package, its checkpoints and its records."""

__version__ = "0.3.0"
