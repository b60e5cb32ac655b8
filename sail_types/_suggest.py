"""``Suggest``: a hyperparameter grid written as a parameter's default."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import attrs

from ._errors import InvalidValue

T = TypeVar("T")

PLAIN = "None, a bool, an int, a finite float, a str, or a tuple of those"


def plain(value: Any) -> Any:
    """``value`` as a plain Python value that JSON and run keys carry unchanged: NumPy
    scalars become ``int``/``float``/``bool``/``str``, lists become tuples.

    Raises:
        ValueError: ``value`` is not one of ``PLAIN`` (a NaN or infinite float included).

    >>> import numpy as np
    >>> plain(np.int64(3)), plain([np.float32(0.5), "a"])
    (3, (0.5, 'a'))
    """
    if type(value).__module__ == "numpy" and callable(getattr(value, "item", None)) and getattr(value, "ndim", 1) == 0:
        value = value.item()  # a NumPy scalar: its Python twin
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum member, say: its number
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not finite")
        return float(value)
    if isinstance(value, (tuple, list)):
        return tuple(plain(v) for v in value)
    raise ValueError(f"{value!r} (a {type(value).__module__}.{type(value).__qualname__}) is not {PLAIN}")


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
        values: the values to try, first one the default; NumPy scalars are turned into
            Python numbers, anything but ``PLAIN`` values is refused.

    Raises:
        InvalidValue: an empty grid, or a value JSON cannot carry.
    """
    if isinstance(values, (str, bytes)):
        raise InvalidValue(f"Suggest({values!r})", "takes a list of values, e.g. Suggest(['adam', 'sgd'])")
    grid = tuple(values)
    if not grid:
        raise InvalidValue("Suggest([])", "needs at least one value, e.g. Suggest([64, 256])")
    try:
        normal = tuple(plain(v) for v in grid)
    except ValueError as exc:
        raise InvalidValue(f"Suggest({list(grid)!r})", f"grid value {exc}; write plain Python values, "
                               "e.g. Suggest([3, 5]) rather than Suggest(np.arange(3, 6, 2))") from None
    return cast(T, Suggestion(normal))
