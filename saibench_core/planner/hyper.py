"""Hyperparameter grids, pruned by the modules' constraints (decided by Z3).

A module's grid is the Cartesian product of its ``Suggest`` values. Constraints such as
``"kernel <= h"`` or ``"width >= 2*depth"`` mention hyperparameters and the module's
signature dims; each distinct (constraints, values) point is decided once.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import z3

from ..discovery import Descriptor
from .dims import to_z3

T = TypeVar("T")


@functools.lru_cache(maxsize=262144)
def violated(constraints: tuple[str, ...], values: tuple[tuple[str, Any], ...]) -> tuple[str, ...]:
    """The constraints that do not hold at ``values`` (names bound to numbers)."""
    bound = dict(values)
    return tuple(c for c in constraints if not z3.is_true(z3.simplify(to_z3(c, "", {}, bound))))


def grid_points(module: Descriptor, dims: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Every point of ``module``'s grid that satisfies its constraints, ``dims`` bound."""
    names = [h.name for h in module.hyper]
    points = [dict(zip(names, values)) for values in itertools.product(*(h.grid for h in module.hyper))]
    constraints = module.spec.constraints
    if not constraints:
        return points
    context = tuple(sorted((dims or {}).items()))
    return [p for p in points if not violated(constraints, context + tuple(sorted(p.items())))]


def pruned_points(module: Descriptor, dims: Mapping[str, int] | None = None) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    """The grid points that constraints remove, each with the constraints it violates."""
    names = [h.name for h in module.hyper]
    context = tuple(sorted((dims or {}).items()))
    for values in itertools.product(*(h.grid for h in module.hyper)):
        point = dict(zip(names, values))
        bad = violated(module.spec.constraints, context + tuple(sorted(point.items())))
        if bad:
            yield point, bad


def sample(items: Iterable[T], k: int, seed: int) -> list[T]:
    """``k`` items drawn uniformly without replacement, in stream order, deterministically
    for a given seed (reservoir sampling: the stream is read once, never stored whole)."""
    rng = random.Random(seed)
    reservoir: list[tuple[int, T]] = []
    for i, item in enumerate(items):
        if i < k:
            reservoir.append((i, item))
        else:
            j = rng.randrange(i + 1)
            if j < k:
                reservoir[j] = (i, item)
    return [item for _, item in sorted(reservoir, key=lambda pair: pair[0])]
