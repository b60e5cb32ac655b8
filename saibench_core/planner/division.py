"""Divisions, as the MLCommons Science policy has them: in the *closed* division every
method runs at its reference hyperparameters (each module's own default: the first value
of its ``Suggest`` grid), so results compare methods rather than tuning budgets; in the
*open* division anything goes, and a tuned leaderboard says how many configurations were
tried for each best one. A problem's hyperparameters define the problem (its size, its
label budget), so they are free in both."""

from __future__ import annotations

import attrs

from ..discovery import Catalog, Descriptor
from ..errors import UsageError
from .compose import walk
from .plan import Run

DIVISIONS = ("open", "closed")
CLOSED_NOTE = "closed division: every method at its reference hyperparameters (each module's default)"


def reference_catalog(catalog: Catalog) -> Catalog:
    """The catalog with every module's grid but a problem's cut to its first value (the
    module's default), for planning the closed division."""
    modules = tuple(m if m.kind == "problem" else attrs.evolve(m, hyper=tuple(attrs.evolve(h, grid=h.grid[:1]) for h in m.hyper))
                    for m in catalog.modules)
    return attrs.evolve(catalog, modules=modules)


def _default(desc: Descriptor | None, values: dict[str, object]) -> bool:
    if not values:  # nothing to tune (the ``fit`` pseudo-trainer of a fitted method has no module)
        return True
    if desc is None:  # not installed: its reference is unknown
        return False
    defaults = {h.name: h.grid[0] for h in desc.hyper}
    return all(name in defaults and defaults[name] == value for name, value in values.items())


def at_reference(run: Run, catalog: Catalog) -> bool:
    """Whether every method module of ``run`` (model, filled slots, trainer) ran at its
    default hyperparameters."""
    return (_default(catalog.get("model", run.model), dict(run.hyper.get("model", {})))
            and _default(catalog.get("trainer", run.trainer), dict(run.hyper.get("trainer", {})))
            and all(_default(catalog.get("model", f.model), dict(f.hyper)) for f in walk(run.fills)))


def check(division: str, grid_keys: list[str], catalog: Catalog) -> None:
    """Refuse ``--set`` of a method's hyperparameter in the closed division.

    Raises:
        UsageError: a key names a module other than a problem.
    """
    if division != "closed":
        return
    problems = {p.name for p in catalog.of("problem")}
    methods = [key for key in grid_keys if key.partition(".")[0] not in problems]
    if methods:
        raise UsageError(f"--set {methods[0]}: the closed division runs every method at its reference hyperparameters; "
                         "set only problems' hyperparameters there, or plan with --division open")
