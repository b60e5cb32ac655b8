"""Hook specifications: what a saibench plugin may implement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sail_types._hooks import hookspec


@hookspec
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """Return the SAIL-decorated functions (problems, models, metrics, ...) this plugin provides."""
    raise NotImplementedError


@hookspec
def saibench_preload() -> Sequence[str]:
    """Optional: modules that BenchPods should find imported already (e.g. a plugin's heavy
    dependency such as ``"sklearn.datasets"``). The pods' fork server imports them once."""
    raise NotImplementedError


@hookspec
def saibench_datasets() -> Sequence[Any]:
    """Optional: the ``sail_types.DataSource`` datasets this plugin's problems read
    (``saibench data list`` shows them, ``saibench data prepare`` makes them)."""
    raise NotImplementedError
