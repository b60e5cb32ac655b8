"""Narrowing a plan: glob patterns on module names before planning, sampling after."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import attrs

from sail_types._modules import ModuleKind

from ..discovery import Catalog
from ..errors import UsageError
from .rules import FIT

T = TypeVar("T")


def select(catalog: Catalog, patterns: Mapping[ModuleKind, Sequence[str]], fields: Sequence[str] = ()) -> Catalog:
    """Keep, for each kind with patterns, only the modules whose name matches one of them,
    and with ``fields``, only the problems whose field matches one of those. Trainer patterns
    also match ``fit``, the pseudo-trainer of ``Fitted`` models: models fitted without
    gradients are kept only when one does.

    Raises:
        UsageError: a pattern matches no installed module of its kind; the message lists
            the installed ones.
    """
    keep = list(catalog.modules)
    for kind, globs in patterns.items():
        if not globs:
            continue
        names = [m.name for m in catalog.of(kind)] + ([FIT.name] if kind == "trainer" else [])
        for pattern in globs:
            if not fnmatch.filter(names, pattern):
                raise UsageError(
                    f"no {kind} matches {pattern!r}; installed {kind}s: {', '.join(names) or 'none'} "
                    f"(see `saibench plugins`)"
                )
        keep = [m for m in keep if m.kind != kind or any(fnmatch.fnmatchcase(m.name, g) for g in globs)]
        if kind == "trainer" and not any(fnmatch.fnmatchcase(FIT.name, g) for g in globs):
            keep = [m for m in keep if not m.fitted]
    if fields:
        known = sorted({p.spec.field for p in catalog.of("problem")})
        for pattern in fields:
            if not fnmatch.filter(known, pattern):
                raise UsageError(f"no problem has a field matching {pattern!r}; installed fields: {', '.join(known) or 'none'}")
        keep = [m for m in keep if m.kind != "problem" or any(fnmatch.fnmatchcase(m.spec.field, g) for g in fields)]
    return attrs.evolve(catalog, modules=tuple(keep))


def with_grid(catalog: Catalog, grid: Mapping[str, Sequence[object]]) -> Catalog:
    """The catalog with hyperparameter grids replaced: ``{"md_bulk.temperature": [300.0,
    900.0]}`` gives every module named ``md_bulk`` those two values of ``temperature``
    instead of its own grid (runs at both; each value is part of its runs' keys).

    Raises:
        UsageError: a key is not ``MODULE.PARAMETER``, names no installed module, or a
            parameter that module does not have; or a grid is empty.
    """
    modules = list(catalog.modules)
    for key, values in grid.items():
        module, _, parameter = key.partition(".")
        found = [i for i, m in enumerate(modules) if m.name == module]
        if not module or not parameter:
            raise UsageError(f"--set {key!r}: name a module's hyperparameter as MODULE.PARAMETER=V1,V2, "
                             "e.g. --set md_bulk.temperature=300,900")
        if not found:
            raise UsageError(f"--set {key}: no installed module is named {module!r} (see `saibench plugins`)")
        if not values:
            raise UsageError(f"--set {key}: give at least one value, e.g. --set {key}=1,2")
        for i in found:
            names = [h.name for h in modules[i].hyper]
            if parameter not in names:
                raise UsageError(f"--set {key}: {modules[i].kind} {module} has no hyperparameter {parameter!r}; "
                                 f"its hyperparameters: {', '.join(names) or 'none'}")
            hyper = tuple(attrs.evolve(h, grid=tuple(_like(v, h.grid) for v in values)) if h.name == parameter else h
                          for h in modules[i].hyper)
            modules[i] = attrs.evolve(modules[i], hyper=hyper)
    return attrs.evolve(catalog, modules=tuple(modules))


def _like(value: object, grid: Sequence[object]) -> object:
    """An int given for a float hyperparameter as a float (``300`` for ``600.0``), so that a
    run's key does not depend on how its value was typed."""
    floats = grid and all(isinstance(g, float) for g in grid)
    return float(value) if floats and isinstance(value, int) and not isinstance(value, bool) else value


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
