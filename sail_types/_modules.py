"""Module decorators: the entry points of SAIL modules.

Each decorator records a ``ModuleSpec`` on the function (``fn.__sail__``) and returns the
function unchanged, so mypy keeps checking it as ordinary Python. The planner reads the
rest - inputs, output, hyperparameters - from the function's own annotations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypeVar

import attrs

from ._concepts import Task
from ._constraints import check_constraint
from ._errors import InvalidSignature, InvalidValue
from ._experiments import Gradient, Pretrain

F = TypeVar("F", bound=Callable[..., Any])

ModuleKind = Literal["problem", "model", "trainer", "metric", "ranking", "software", "hardware", "converter"]
MODULE_KINDS: tuple[ModuleKind, ...] = (
    "problem", "model", "trainer", "metric", "ranking", "software", "hardware", "converter",
)


RELATION_ROLES = ("problem", "model", "trainer", "software", "hardware", "field")

# names are printed in tables, matched by globs and stored in run keys: no spaces, no control characters
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.+\-]{0,99}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_name(name: object, what: str, who: str) -> str:
    """``name`` if it is a module, metric or field name saibench can print and match.

    Raises:
        InvalidValue: not a str of letters, digits and ``_.+-`` starting with a letter or ``_``.
    """
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidValue(who, f"{what} {name!r} is not a name: use letters, digits and _ . + - (at most 100, "
                           "starting with a letter or _), e.g. name='mlp-wide'")
    return name


def _strings(entries: Iterable[str] | str) -> tuple[str, ...]:
    """A tuple of the entries; one bare string is one entry, not its characters."""
    return (entries,) if isinstance(entries, str) else tuple(entries)


def _relations(entries: Iterable[str]) -> tuple[str, ...]:
    """Check ``"role:glob"`` entries (``"problem:digits"``, ``"model:mlp*"``, ``"field:chemistry"``)."""
    try:
        checked = _strings(entries)
    except TypeError:
        raise InvalidSignature(repr(entries), "relations are a tuple of 'role:glob' strings, "
                               "e.g. only_with=('problem:digits',)") from None
    for entry in checked:
        role, _, pattern = entry.partition(":") if isinstance(entry, str) else ("", "", "")
        if role not in RELATION_ROLES or not pattern or _CONTROL.search(pattern):
            raise InvalidSignature(repr(entry), f"a relation is 'role:glob' with role one of {', '.join(RELATION_ROLES)}; "
                                   "e.g. only_with=('problem:digits', 'field:chemistry')")
    return checked


def _constraints(exprs: Iterable[str]) -> tuple[str, ...]:
    return tuple(check_constraint(e) for e in _strings(exprs))


def _tasks(tasks: Iterable[Task] | Task) -> tuple[Task, ...]:
    if isinstance(tasks, Task):
        return (tasks,)
    try:
        return tuple(tasks)
    except TypeError:
        raise InvalidValue(repr(tasks), "tasks is a tuple of Task, e.g. tasks=(Classify, Regress)") from None


def _int_to_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _real(value: object, what: str, who: str, fix: str, *, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidValue(who, f"{what} {value!r} is not a finite number; {fix}")
    if nonnegative and value < 0:
        raise InvalidValue(who, f"{what} {value!r} is negative; {fix}")
    return float(value)


def _gradients(entries: Iterable[Gradient]) -> tuple[Gradient, ...]:
    return tuple(entries)


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
    metrics: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    tasks: tuple[Task, ...] = attrs.field(default=(), converter=_tasks)
    only_with: tuple[str, ...] = attrs.field(default=(), converter=_relations)
    never_with: tuple[str, ...] = attrs.field(default=(), converter=_relations)
    constraints: tuple[str, ...] = attrs.field(default=(), converter=_constraints)
    needs: tuple[str, ...] = ()
    hard_fail: float | None = attrs.field(default=None, converter=_int_to_float)
    gradients: tuple[Gradient, ...] = attrs.field(default=(), converter=_gradients)
    pretrain: Pretrain | None = None
    label_budget: str = ""
    order: Literal["total", "partial"] = "total"
    pareto: Pareto | None = None

    def __attrs_post_init__(self) -> None:
        """Every declared value checked where it enters, so that none fails later in the
        planner, a pod or ``json.dumps``; the error names the decorator and the fix."""
        who = f"@{self.kind}({'name=' + repr(self.name) if self.name is not None else ''})"
        if self.kind not in MODULE_KINDS:
            raise InvalidValue(who, f"kind must be one of {', '.join(MODULE_KINDS)}")
        if self.name is not None:
            check_name(self.name, "name", who)
        check_name(self.field, "field", who)
        if self.task is not None and not isinstance(self.task, Task):
            raise InvalidValue(who, f"task={self.task!r} is not a Task; use one of sail_types' (Classify, Regress, ...) "
                               "or define one: MyTask = Task('MyTask', refines=Regress)")
        if self.kind in ("problem", "model") and self.task is None:
            raise InvalidValue(who, "needs task=..., e.g. task=Classify")
        if not all(isinstance(t, Task) for t in self.tasks):
            raise InvalidValue(who, f"tasks={self.tasks!r} must be a tuple of Task, e.g. tasks=(Classify, Regress)")
        if self.problem_kind not in ("cases", "class", "setting"):
            raise InvalidValue(who, f"kind={self.problem_kind!r} must be 'cases', 'class' or 'setting'")
        if self.goal not in ("max", "min"):
            raise InvalidValue(who, f"goal={self.goal!r} must be 'max' (larger is better) or 'min'")
        if not isinstance(self.unit, str) or _CONTROL.search(self.unit):
            raise InvalidValue(who, f"unit={self.unit!r} must be a str without control characters, e.g. unit='s'")
        _real(self.cost, "cost", who, "a converter's cost is >= 0, e.g. cost=1.0", nonnegative=True)
        if self.hard_fail is not None:
            _real(self.hard_fail, "hard_fail", who, "e.g. hard_fail=0.5, or leave it out")
        for m in self.metrics:
            check_name(m, "metric", who)
        if not all(isinstance(g, Gradient) for g in self.gradients):
            raise InvalidValue(who, f"gradients={self.gradients!r} must be Gradient targets, e.g. "
                               "gradients=[Gradient('forces', wrt=np.s_[1:, 1:4], sign=-1.0)]")
        if self.pretrain is not None and not isinstance(self.pretrain, Pretrain):
            raise InvalidValue(who, f"pretrain={self.pretrain!r} must be a Pretrain, e.g. "
                               "pretrain=Pretrain('particle_denoise', 'unet_denoiser', keep='[0]')")
        if self.label_budget and (not isinstance(self.label_budget, str) or not self.label_budget.isidentifier()):
            raise InvalidValue(who, f"label_budget={self.label_budget!r} must name one of the problem's hyperparameters, "
                               "e.g. label_budget='labels'")
        if len({g.name for g in self.gradients}) < len(self.gradients):
            raise InvalidValue(who, "two gradients share a name; each names its own metadata array")
        _check_order(self, who)


def _mark(spec: ModuleSpec) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn.__sail__ = spec  # type: ignore[attr-defined]
        return fn

    return decorate


def problem(
    *, task: Task, field: str = "general", kind: Literal["cases", "class", "setting"] = "cases",
    name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = (), unit: str = "",
    gradients: Iterable[Gradient] = (), label_budget: str = "",
) -> Callable[[F], F]:
    """Declare a problem: a function returning ``Dataset[X, Y]`` (paper §3: defined by
    *cases* - a dataset, by *class* - generated instances, or by *setting* - a simulator).

    Args:
        task: the task kind, e.g. ``Classify``.
        field: the scientific community it comes from (``"vision"``, ``"chemistry"``).
        kind: ``"cases"``, ``"class"`` or ``"setting"``.
        name: the module name; defaults to the function's name.
        only_with, never_with: relations, see ``model``.
        unit: the targets' unit (``"eV"``), handed to metrics as ``Evaluation.units``.
        gradients: derivatives of the model's output with respect to its input that are
            targets too (``Gradient("forces", wrt=np.s_[1:, 1:4], sign=-1.0)``), their
            true values in each fixture's metadata under their names (see ``Gradient``).
        label_budget: the name of the problem's hyperparameter that gives the fraction of
            its labelled training data a run trains on (``labels: float = Suggest([1/16,
            1/4, 1.0])``): runs that differ only in it make a sample-efficiency curve
            (``saibench rank`` shows each configuration's, with its area).

    A problem of ``kind="setting"`` runs a simulator: what it returns is cached on disk
    by a content hash of its setting (its source, version and hyperparameters), so that
    repeated runs and every run of a campaign load it instead of simulating again. A long
    simulation reports its progress when the problem takes a keyword ``progress``:
    ``progress(fraction, what)`` with ``0 <= fraction <= 1``.
    """
    return _mark(ModuleSpec("problem", name, task=task, field=field, problem_kind=kind,
                            only_with=only_with, never_with=never_with, unit=unit, gradients=tuple(gradients),
                            label_budget=label_budget))


def model(
    *, task: Task, field: str = "general", name: str | None = None, only_with: Iterable[str] = (),
    never_with: Iterable[str] = (), constraints: Iterable[str] = (), pretrain: Pretrain | None = None,
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
        pretrain: a run the model may start from (``Pretrain``): each of its runs is then
            planned from scratch and from that run's weights, which runs first.
    """
    return _mark(ModuleSpec("model", name, task=task, field=field, only_with=only_with,
                            never_with=never_with, constraints=constraints, pretrain=pretrain))


def trainer(
    *, tasks: tuple[Task, ...] = (), name: str | None = None, only_with: Iterable[str] = (),
    never_with: Iterable[str] = (), constraints: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare a training algorithm returning ``Training``; ``tasks=()`` means any task.
    Relations and hyperparameter ``constraints`` as for ``model``."""
    return _mark(ModuleSpec("trainer", name, tasks=tasks, only_with=only_with,
                            never_with=never_with, constraints=constraints))


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
    unknown = set(_strings(needs)) - {"epochs"}
    if unknown:
        raise InvalidSignature(repr(sorted(unknown)), "a metric can need only 'epochs'")
    return _mark(ModuleSpec("metric", name, goal=goal, unit=unit, tasks=tasks, needs=_strings(needs), hard_fail=hard_fail))


Goal = Literal["max", "min"]


@attrs.frozen(init=False)
class Pareto:
    """Pareto dominance over metrics, each with its goal: ``a`` dominates ``b`` when it is at
    least as good in every metric and better in one (Deb et al. 2002, NSGA-II's fronts).

    >>> fast = Pareto(accuracy="max", train_time="min")
    >>> fast.dominates({"accuracy": 0.9, "train_time": 1.0}, {"accuracy": 0.8, "train_time": 1.0})
    True
    >>> fast.dominates({"accuracy": 0.9, "train_time": 9.0}, {"accuracy": 0.8, "train_time": 1.0})
    False
    """

    goals: tuple[tuple[str, Goal], ...]

    def __init__(self, **goals: Goal) -> None:
        who = f"Pareto({', '.join(f'{m}={g!r}' for m, g in goals.items())})"
        if len(goals) < 2:
            raise InvalidValue(who, "a Pareto order needs two metrics or more (one metric is a total order: "
                               "declare a score), e.g. Pareto(accuracy='max', train_time='min')")
        for name, goal in goals.items():
            check_name(name, "metric", who)
            if goal not in ("max", "min"):
                raise InvalidValue(who, f"{name}={goal!r}: a goal is 'max' (larger is better) or 'min'")
        self.__attrs_init__(tuple(goals.items()))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics, in the order declared."""
        return tuple(name for name, _ in self.goals)

    def dominates(self, a: Mapping[str, float], b: Mapping[str, float]) -> bool:
        """Whether ``a`` is at least as good as ``b`` in every metric and better in one."""
        signed = [(a[m], b[m]) if goal == "max" else (b[m], a[m]) for m, goal in self.goals]
        return all(x >= y for x, y in signed) and any(x > y for x, y in signed)


def _check_order(spec: ModuleSpec, who: str) -> None:
    """A ranking's order: a score (``"total"``) or a comparison (``"partial"``, maybe Pareto)."""
    if spec.order not in ("total", "partial"):
        raise InvalidValue(who, f"order={spec.order!r} must be 'total' (a score), 'partial' (a comparison) "
                           "or Pareto(metric='max', ...)")
    if spec.pareto is not None and (not isinstance(spec.pareto, Pareto) or spec.order != "partial"):
        raise InvalidValue(who, f"pareto={spec.pareto!r} must be a Pareto(...) of a partial order")
    if spec.pareto is not None and spec.metrics != spec.pareto.metrics:
        raise InvalidValue(who, f"metrics={spec.metrics!r} differ from the Pareto order's {spec.pareto.metrics!r}; "
                           "leave metrics out: a Pareto order names them")
    if spec.kind == "ranking" and not spec.metrics:
        raise InvalidValue(who, "a ranking names the metrics it reads, e.g. metrics=('accuracy',)")


def ranking(
    *, metrics: Iterable[str] = (), field: str = "general", name: str | None = None,
    order: Literal["total", "partial"] | Pareto = "total",
) -> Callable[[F], F]:
    """Declare a ranking over the named metrics; it applies to every run that has them all.

    A total order scores: ``def r(values: Mapping[str, float]) -> float`` (higher ranks
    first). A partial order compares: with ``order="partial"``, ``def r(a: Mapping[str,
    float], b: Mapping[str, float]) -> bool`` says whether ``a`` dominates ``b`` (a strict
    partial order: never both ways); leaderboards group configurations in fronts (front 1:
    none dominates them). ``order=Pareto(accuracy="max", train_time="min")`` declares Pareto
    dominance and its metrics (``metrics`` left out); the function returns its
    ``dominates(a, b)``, so tables can say which way each metric is better.

    Args:
        metrics: the metrics it reads, never NaN (not measured): a run lacking one is unranked.
        field: the community whose leaderboard it is (``saibench rank --perspective``).
        name: the module name; defaults to the function's name.
        order: ``"total"``, ``"partial"`` or a ``Pareto``.

    Example::

        ACCURACY_TIME = Pareto(accuracy="max", train_time="min")

        @ranking(order=ACCURACY_TIME)
        def pareto_accuracy_time(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
            # a docstring here says what the fronts trade off
            return ACCURACY_TIME.dominates(a, b)
    """
    if isinstance(order, Pareto):
        return _mark(ModuleSpec("ranking", name, metrics=_strings(metrics) or order.metrics, field=field,
                                order="partial", pareto=order))
    return _mark(ModuleSpec("ranking", name, metrics=metrics, field=field, order=order))


def software(*, name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = ()) -> Callable[[F], F]:
    """Declare a software configuration: a function returning ``Runtime`` or raising ``Fail``."""
    return _mark(ModuleSpec("software", name, only_with=only_with, never_with=never_with))


def hardware(*, name: str | None = None, only_with: Iterable[str] = (), never_with: Iterable[str] = ()) -> Callable[[F], F]:
    """Declare a hardware configuration: a function returning ``Device`` or raising ``Fail``.

    It runs at describe time, so it must probe cheaply (no framework import)."""
    return _mark(ModuleSpec("hardware", name, only_with=only_with, never_with=never_with))


def converter(*, cost: float = 1.0, name: str | None = None) -> Callable[[F], F]:
    """Declare a type converter: ``def c(x: Annotated[A, Image("h","w","c")])
    -> Annotated[B, Tensor("h*w*c")]`` acting on a whole batch (batch axis first)."""
    return _mark(ModuleSpec("converter", name, cost=cost))
