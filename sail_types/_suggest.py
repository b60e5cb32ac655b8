"""``Suggest``: a hyperparameter grid written as a parameter's default."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

import attrs

T = TypeVar("T")


@attrs.frozen
class Suggestion:
    """The grid behind a ``Suggest([...])`` default; its first value is the default."""

    values: tuple[Any, ...]


def Suggest(values: Iterable[T]) -> T:  # noqa: N802 - SAIL spells its constructs in capitals
    """Suggest the values a hyperparameter should be tried at.

    Typed as the value itself, as ``dataclasses.field`` is, so that
    ``width: int = Suggest([64, 256])`` passes ``mypy --strict``. The planner expands the
    grid into runs; calling the function directly uses the first value.

    Args:
        values: the values to try, first one the default.
    """
    grid = tuple(values)
    if not grid:
        raise ValueError("Suggest needs at least one value, e.g. Suggest([64, 256])")
    return cast(T, Suggestion(grid))
