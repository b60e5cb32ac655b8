"""saibench-tabular: regression on real tabular data, registered through entry points."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .diabetes import diabetes

__all__ = ["diabetes"]


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The tabular modules."""
    return [diabetes]
