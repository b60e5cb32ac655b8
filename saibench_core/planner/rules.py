"""Feasibility as one list of rules.

Each rule reads some roles of a candidate run and returns the reasons it is violated, in
plain words naming modules, types, dims and ``Fail`` reasons (an empty list: it holds).
The planner's join keeps exactly the candidates every rule accepts (memoized per distinct
signature and grid point), and ``left_out`` and ``explain`` collect the same reasons, so
"feasible" and "why not" cannot disagree.

| rule | reads |
|---|---|
| ``task`` | problem, model (the problem's task refines the model's) |
| ``trainer_task`` | problem, trainer |
| ``fitting`` | model, trainer (a ``Fitted`` model takes the ``fit`` pseudo-trainer, others a trainer) |
| ``relation`` | any two roles (``only_with`` / ``never_with``, either side) |
| ``types`` | problem at its grid point, model (converter chain, dims by Z3) |
| ``slots`` | model, its dims (submodules filled from installed models) |
| ``constraint`` | a module, its grid point, its dims |
| ``model_fail`` | model, dims, grid point, fills (the factory's ``Fail``) |
| ``platform`` | software, hardware |
| ``memory`` | model point, software, hardware |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import z3

from sail_types import ModuleSpec, SailType, constraint_names

from ..discovery import Descriptor
from .dims import mismatch, to_z3
from .hyper import violated
from .match import Match, bind, equalities
from .relations import conflict

if TYPE_CHECKING:
    from .compose import Fill
    from .plan import Planner


@attrs.frozen
class Reason:
    """One violated rule: which, the modules involved, and what is wrong in plain words."""

    requirement: str
    modules: tuple[str, ...]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "modules": list(self.modules), "detail": self.detail}


def label(desc: Descriptor) -> str:
    """``model mlp``: a module named with its kind."""
    return f"{desc.kind} {desc.name}"


def point_label(hyper: Mapping[str, Any]) -> str:
    """``width=64, depth=2``, or ``its defaults`` for an empty point."""
    return ", ".join(f"{k}={v}" for k, v in hyper.items()) or "its defaults"


def task(problem: Descriptor, model: Descriptor) -> list[Reason]:
    """The problem's task is the model's or refines it (a Forecast problem takes Regress models)."""
    assert problem.spec.task is not None and model.spec.task is not None
    if problem.spec.task.accepts(model.spec.task):
        return []
    lineage = " → ".join(t.name for t in problem.spec.task.lineage())
    return [Reason("task", (label(problem), label(model)),
                   f"problem {problem.name} is a {problem.task} task ({lineage}); model {model.name} solves {model.task}")]


def trainer_task(problem: Descriptor, trainer: Descriptor) -> list[Reason]:
    """A trainer with ``tasks`` handles a problem whose task is one of them or refines one."""
    assert problem.spec.task is not None
    if not trainer.spec.tasks or any(problem.spec.task.accepts(t) for t in trainer.spec.tasks):
        return []
    return [Reason("trainer", (label(problem), label(trainer)),
                   f"trainer {trainer.name} handles {', '.join(map(str, trainer.spec.tasks))}, not {problem.task}")]


FIT = Descriptor("fit", "trainer", "saibench", "0", ModuleSpec("trainer", name="fit"),
                 doc="The trainer role of a model fitted without gradients: its own fit, no epochs, no learning rate.")
"""The pseudo-trainer of every ``Fitted`` model (``Run.trainer == "fit"``, no hyperparameters);
no installed trainer may take its name."""


def fitting(model: Descriptor, trainer: Descriptor) -> list[Reason]:
    """A ``Fitted`` model takes the ``fit`` pseudo-trainer and nothing else; every other model
    takes an installed trainer, which may not be called ``fit``."""
    if trainer.name == FIT.name and trainer is not FIT:
        return [Reason("trainer", (label(trainer),), f"trainer {trainer.name} takes the reserved name of the pseudo-trainer "
                       f"of models fitted without gradients; rename it, e.g. @trainer(name='{trainer.name}_opt')")]
    if model.fitted and trainer is not FIT:
        return [Reason("trainer", (label(model), label(trainer)), f"model {model.name} is fitted without gradients "
                       f"(it returns Fitted) and takes no trainer; trainer {trainer.name} trains by gradient descent")]
    if not model.fitted and trainer is FIT:
        return [Reason("trainer", (label(model), label(trainer)),
                       f"model {model.name} is trained by a trainer; only models returning Fitted are fitted by {FIT.name}")]
    return []


def relation(a: Descriptor, b: Descriptor) -> list[Reason]:
    """Neither module's ``only_with``/``never_with`` excludes the other."""
    why = conflict(a, b)
    return [Reason("relation", (label(a), label(b)), why)] if why else []


def problem_types(problem: Descriptor, hp: Mapping[str, Any]) -> tuple[SailType, SailType]:
    """The problem's input and target types with its hyperparameters bound
    (``TimeSeries("window", 1)`` at ``window=8`` is ``TimeSeries(8, 1)``)."""
    assert problem.input is not None and problem.output is not None
    values = {k: v for k, v in hp.items() if isinstance(v, int)}
    return bind(problem.input, values), bind(problem.output, values)


def types(planner: Planner, problem: Descriptor, hp: Mapping[str, Any], model: Descriptor) -> Match | list[Reason]:
    """How the problem at ``hp`` reaches the model (converter chain, bound dims), or every
    reason it cannot: the output type, the missing chain, each conflicting dim."""
    source_in, source_out = problem_types(problem, hp)
    found = planner.matcher(source_in, source_out, model)
    if not isinstance(found, str):
        return found
    where = f"problem {problem.name}" + (f" at {point_label(hp)}" if problem.hyper else "")
    return type_reasons(planner, (where, source_in, source_out), model, label(problem)) or [
        Reason("types", (label(problem), label(model)), found)]


def type_reasons(planner: Planner, source: tuple[str, SailType, SailType], model: Descriptor, who: str) -> list[Reason]:
    """Every type requirement of ``source → chain → model`` that fails, in words."""
    name, source_in, source_out = source
    assert model.input is not None and model.output is not None
    pair = (who, label(model))
    reasons = []
    if why := mismatch(model.output, source_out):
        reasons.append(Reason("output type", pair, f"model output {model.output!r} cannot be {name}'s target {source_out!r}: {why}"))
    chains = planner.matcher.chains(source_in.kind, model.input.kind, planner.max_chain)
    if not chains:
        installed = ", ".join(f"{c.name} {c.input!r}->{c.output!r}" for c in planner.matcher.converters) or "none"
        reasons.append(Reason("converter chain", pair, f"no chain of at most {planner.max_chain} converters turns {name}'s "
                              f"{source_in.kind} into model {model.name}'s {model.input.kind} (installed converters: {installed})"))
    elif not reasons:
        for chain in chains:
            via = " → ".join(c.name for c in chain) or "no converter"
            for words in dim_reasons((name, source_in, source_out), chain, model):
                reasons.append(Reason("dims", pair + tuple(label(c) for c in chain), f"via {via}: {words}"))
    return reasons


def dim_reasons(source: tuple[str, SailType, SailType], chain: Sequence[Descriptor], model: Descriptor) -> list[str]:
    """The equalities of ``source → chain → model`` left violated by a MaxSAT pass (Z3
    ``Optimize``: the assignment satisfying the most leaves the whole conflicting set
    violated, where an unsat core would name one), or the rank/kind mismatch."""
    name, source_in, source_out = source
    pairs = equalities(source_in, source_out, chain, model)
    who = {"source": name, "model": f"model {model.name}", **{f"c{i}": f"converter {c.name}" for i, c in enumerate(chain)}}
    shape = [f"{who[ls]}'s {lt!r} cannot feed {who[rs]}'s {rt!r}: {why}" for (ls, lt), (rs, rt) in pairs if (why := mismatch(lt, rt))]
    if shape:
        return shape
    symbols: dict[str, Any] = {}
    opt = z3.Optimize()
    opt.set("timeout", 5000)
    soft: list[tuple[Any, str]] = []
    for (ls, lt), (rs, rt) in pairs:
        for i, (ld, rd) in enumerate(zip(lt.dims, rt.dims)):
            term = to_z3(ld, ls, symbols) == to_z3(rd, rs, symbols)
            soft.append((term, f"dim {i + 1} of {who[ls]}'s {lt!r} ({ld}) must equal dim {i + 1} of {who[rs]}'s {rt!r} ({rd})"))
    opt.add(*[s >= 1 for s in symbols.values()])
    for term, _ in soft:
        opt.add_soft(term, 1)
    if opt.check() != z3.sat:
        return ["the dims admit no positive solution (or Z3 could not decide in 5 s)"]
    found = opt.model()
    broken = [words for term, words in soft if not z3.is_true(found.eval(term, model_completion=True))]
    bound = {k: found.eval(v, model_completion=True) for k, v in symbols.items()}
    closest = ", ".join(f"{k}={v}" for k, v in sorted(bound.items())) or "no unknowns"
    return [f"{words} (closest agreement: {closest})" for words in broken] or ["the dims cannot agree"]


def constraint(module: Descriptor, point: Mapping[str, Any], dims: Mapping[str, int] | None) -> list[Reason]:
    """The module's constraints hold at ``point`` with its signature ``dims`` bound. With
    ``dims=None`` (the types did not match), only constraints over bound names are judged."""
    if not module.spec.constraints:
        return []
    values = {**(dims or {}), **point}
    judged = module.spec.constraints if dims is not None else tuple(
        c for c in module.spec.constraints if constraint_names(c) <= values.keys())
    bad = violated(judged, tuple(sorted(values.items()))) if judged else ()
    if not bad:
        return []
    return [Reason("constraint", (label(module),), f"{module.kind} {module.name} at {point_label(point)}"
                   + (f" with dims {dict(dims)}" if dims else "") + f" violates {' and '.join(bad)}")]


def model_fail(planner: Planner, model: Descriptor, dims: Mapping[str, int], point: Mapping[str, Any],
               fills: tuple[Fill, ...]) -> list[Reason]:
    """The model's factory, built at this point, does not raise ``Fail``."""
    failure = planner.built(model, dims, point, fills).failure
    if failure is None:
        return []
    return [Reason("Fail", (label(model),), f"model {model.name} at {point_label(point)}"
                   + (f" with dims {dict(dims)}" if dims else "") + f" raised Fail: {failure}")]


def platform(software: Descriptor, hardware: Descriptor) -> list[Reason]:
    """Both probes succeeded, the software runs on the hardware's platform, no relation
    excludes the pair."""
    reasons = [Reason("Fail", (label(d),), f"{d.kind} {d.name} raised Fail: {d.failure}") for d in (software, hardware) if d.failure]
    if not reasons and software.runtime and hardware.device and hardware.device.platform not in software.runtime.platforms:
        reasons.append(Reason("platform", (label(software), label(hardware)),
                              f"software {software.name} runs on {', '.join(software.runtime.platforms)}, "
                              f"not on hardware {hardware.name}'s {hardware.device.platform}"))
    return reasons + relation(software, hardware)


def memory(planner: Planner, model: Descriptor, dims: Mapping[str, int], point: Mapping[str, Any], fills: tuple[Fill, ...],
           software: Descriptor, hardware: Descriptor) -> list[Reason]:
    """The model's parameters at ``point``, at the software's precision, fit the hardware's
    memory (where the hardware declares it and the model can be sized)."""
    why = planner.memory_reason(model, dims, point, fills, software, hardware)
    return [Reason("memory", (label(model), label(hardware)), why)] if why else []
