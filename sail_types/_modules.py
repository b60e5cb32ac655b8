"""Module decorators: the entry points of SAIL modules.

Each decorator records a ``ModuleSpec`` on the function (``fn.__sail__``) and returns the
function unchanged, so mypy keeps checking it as ordinary Python. The planner reads the
rest - inputs, output, hyperparameters - from the function's own annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

import attrs

from ._concepts import Task
from ._constraints import check_constraint
from ._errors import InvalidSignature

F = TypeVar("F", bound=Callable[..., Any])

ModuleKind = Literal["problem", "model", "trainer", "metric", "ranking", "software", "hardware", "converter"]
MODULE_KINDS: tuple[ModuleKind, ...] = (
    "problem", "model", "trainer", "metric", "ranking", "software", "hardware", "converter",
)


RELATION_ROLES = ("problem", "model", "trainer", "software", "hardware", "field")


def _relations(entries: Iterable[str]) -> tuple[str, ...]:
    """Check ``"role:glob"`` entries (``"problem:digits"``, ``"model:mlp*"``, ``"field:chemistry"``)."""
    if isinstance(entries, str):
        entries = (entries,)
    checked = tuple(entries)
    for entry in checked:
        role, _, pattern = entry.partition(":")
        if role not in RELATION_ROLES or not pattern:
            raise InvalidSignature(repr(entry), f"a relation is 'role:glob' with role one of {', '.join(RELATION_ROLES)}; "
                                   "e.g. only_with=('problem:digits', 'field:chemistry')")
    return checked


def _constraints(exprs: Iterable[str]) -> tuple[str, ...]:
    if isinstance(exprs, str):
        exprs = (exprs,)
    return tuple(check_constraint(e) for e in exprs)


@attrs.frozen
class ModuleSpec:
    """What a decorator declares about a module, beyond its signature."""

    kind: ModuleKind
    name: str | None = None
    task: Task | None = None
    field: str = "general"
    problem_kind: Literal["cases", "class", "setting"] = "cases"
    cost: float = 1.0
    goal: Literal["max", "min"] = "max"
    unit: str = ""
    metrics: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    only_with: tuple[str, ...] = attrs.field(default=(), converter=_relations)
    never_with: tuple[str, ...] = attrs.field(default=(), converter=_relations)
    constraints: tuple[str, ...] = attrs.field(default=(), converter=_constraints)
    needs: tuple[str, ...] = ()
    hard_fail: float | None = None


def _mark(spec: ModuleSpec) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn.__sail__ = spec  # type: ignore[attr-defined]
        return fn

    return decorate


def problem(
    *, task: Task, field: str = "general", kind: Literal["cases", "class", "setting"] = "cases",
    name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a problem: a function returning ``Dataset[X, Y]`` (paper §3: defined by
    *cases* - a dataset, by *class* - generated instances, or by *setting* - a simulator).

    Args:
        task: the task kind, e.g. ``Classify``.
        field: the scientific community it comes from (``"vision"``, ``"chemistry"``).
        kind: ``"cases"``, ``"class"`` or ``"setting"``.
        name: the module name; defaults to the function's name.
        only_with, never_with: relations, see ``model``.
    """
    return _mark(ModuleSpec("problem", name, task=task, field=field, problem_kind=kind,
                            only_with=tuple(only_with), never_with=tuple(never_with)))


def model(
    *, task: Task, field: str = "general", name: str | None = None, only_with: Iterable[str] = (),
    never_with: Iterable[str] = (), constraints: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a model: ``def m(x: Annotated[Input, Tensor("d")], *, width: int = ...)
    -> Annotated[Layer, Label("k")]`` returning a declarative SAIL network.

    Args:
        only_with: ``"role:glob"`` entries; for each role named, the run's module in that
            role must match one of them (``"field:NAME"`` names the problem's field).
        never_with: ``"role:glob"`` entries the model never runs with.
        constraints: requirements over hyperparameters and signature dims decided by Z3,
            e.g. ``"kernel <= h"`` or ``"width >= 2*depth"``; grid points violating them
            are pruned.
    """
    return _mark(ModuleSpec("model", name, task=task, field=field, only_with=tuple(only_with),
                            never_with=tuple(never_with), constraints=tuple(constraints)))


def trainer(
    *, tasks: tuple[Task, ...] = (), name: str | None = None, only_with: Iterable[str] = (),
    never_with: Iterable[str] = (), constraints: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a training algorithm returning ``Training``; ``tasks=()`` means any task.
    Relations and hyperparameter ``constraints`` as for ``model``."""
    return _mark(ModuleSpec("trainer", name, tasks=tasks, only_with=tuple(only_with),
                            never_with=tuple(never_with), constraints=tuple(constraints)))


def metric(
    *, goal: Literal["max", "min"], unit: str = "", tasks: tuple[Task, ...] = (),
    name: str | None = None, needs: Iterable[str] = (), hard_fail: float | None = None,
) -> Callable[[F], F]:
    """Declare a metric: ``def m(ev: Annotated[Evaluation, Label("k")]) -> float``.

    The annotation on ``ev`` (optional) restricts it to problems whose targets have that
    kind; ``goal`` says whether larger or smaller is better. A metric observes the run's
    event stream ``ev.events`` in order and may keep state while it does.

    Args:
        needs: events beyond the default ones; ``"epochs"`` asks for an evaluation on the
            test fixture after every epoch (taken from parameter snapshots, off the clock).
        hard_fail: a run whose value is worse than this (below it for ``goal="max"``,
            above it for ``"min"``) is recorded as failed, its metrics kept.
    """
    unknown = set(needs) - {"epochs"}
    if unknown:
        raise InvalidSignature(repr(sorted(unknown)), "a metric can need only 'epochs'")
    return _mark(ModuleSpec("metric", name, goal=goal, unit=unit, tasks=tasks, needs=tuple(needs), hard_fail=hard_fail))


def ranking(*, metrics: tuple[str, ...], field: str = "general", name: str | None = None) -> Callable[[F], F]:
    """Declare a ranking: ``def r(values: Mapping[str, float]) -> float`` scores one run from
    the named metrics (higher ranks first); it applies to every run that has them all."""
    return _mark(ModuleSpec("ranking", name, metrics=metrics, field=field))


def software(*, name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = ()) -> Callable[[F], F]:
    """Declare a software configuration: a function returning ``Runtime`` or raising ``Fail``."""
    return _mark(ModuleSpec("software", name, only_with=tuple(only_with), never_with=tuple(never_with)))


def hardware(*, name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = ()) -> Callable[[F], F]:
    """Declare a hardware configuration: a function returning ``Device`` or raising ``Fail``.

    It runs at describe time, so it must probe cheaply (no framework import)."""
    return _mark(ModuleSpec("hardware", name, only_with=tuple(only_with), never_with=tuple(never_with)))


def converter(*, cost: float = 1.0, name: str | None = None) -> Callable[[F], F]:
    """Declare a type converter: ``def c(x: Annotated[A, Image("h","w","c")])
    -> Annotated[B, Tensor("h*w*c")]`` acting on a whole batch (batch axis first)."""
    if cost < 0:
        raise ValueError(f"converter cost must be >= 0, got {cost}")
    return _mark(ModuleSpec("converter", name, cost=cost))
