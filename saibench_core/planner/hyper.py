"""Hyperparameter grids, pruned by the modules' constraints (decided by Z3).

A module's grid is the Cartesian product of its ``Suggest`` values. Constraints such as
``"kernel <= h"`` or ``"width >= 2*depth"`` mention hyperparameters and the module's
signature dims; each distinct (constraints, values) point is decided once.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import z3

from ..discovery import Descriptor
from .dims import to_z3


@functools.lru_cache(maxsize=262144)
def violated(constraints: tuple[str, ...], values: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    """The constraints that do not hold at ``values`` (names bound to numbers)."""
    bound = dict(values)
    return tuple(c for c in constraints if not z3.is_true(z3.simplify(to_z3(c, "", {}, bound))))


def all_points(module: Descriptor) -> Iterator[dict[str, Any]]:
    """Every point of ``module``'s grid, constraints not applied."""
    names = [h.name for h in module.hyper]
    for values in itertools.product(*(h.grid for h in module.hyper)):
        yield dict(zip(names, values))


def judged_points(module: Descriptor, dims: Mapping[str, int] | None = None) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    """Every point of ``module``'s grid with the constraints it violates (``dims`` bound)."""
    context = tuple(sorted((dims or {}).items()))
    for point in all_points(module):
        bad = violated(module.spec.constraints, context + tuple(sorted(point.items()))) if module.spec.constraints else ()
        yield point, bad


def grid_points(module: Descriptor, dims: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Every point of ``module``'s grid that satisfies its constraints."""
    return [point for point, bad in judged_points(module, dims) if not bad]

