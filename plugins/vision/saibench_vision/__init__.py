"""saibench-vision: image problems and converters, registered through entry points."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .cnn import cnn
from .converters import flatten
from .digits import digits


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The vision modules."""
    return [digits, flatten, cnn]


@hookimpl
def saibench_preload() -> Sequence[str]:
    """scikit-learn's dataset loaders take ~1 s to import: BenchPods get them imported."""
    return ["sklearn.datasets"]
