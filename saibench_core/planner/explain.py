"""Explanations: every reason a pairing yields no run, not just the first.

Structural requirements (task, relations, kinds, ranks, slots, trainers, platforms,
memory) are checked one by one. Dimension requirements are tracked as soft constraints
in a Z3 ``Optimize`` (MaxSAT): the assignment that satisfies the most of them leaves the
*whole* set of conflicting equalities violated, where an unsat core would name one - the
way Spack's concretizer reports "errors as soft facts".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import z3

from ..discovery import Descriptor
from .compose import walk
from .dims import mismatch, to_z3
from .hyper import pruned_points
from .match import equalities
from .plan import Planner, point_label
from .relations import conflict


@attrs.frozen
class Reason:
    """One violated requirement: what it is, the modules involved, in plain words."""

    requirement: str
    modules: tuple[str, ...]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "modules": list(self.modules), "detail": self.detail}


def violated_dims(source: tuple[str, Any, Any], chain: Sequence[Descriptor], model: Descriptor) -> list[str] | None:
    """The dim equalities of ``source → chain → model`` left violated by a MaxSAT pass, in
    words; ``None`` when the kinds or ranks already differ (no dims to weigh)."""
    name, source_in, source_out = source
    pairs = equalities(source_in, source_out, chain, model)
    if any(mismatch(a[1], b[1]) for a, b in pairs):
        return None
    who = {"source": name, "model": f"model {model.name}", **{f"c{i}": f"converter {c.name}" for i, c in enumerate(chain)}}
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
    return [f"{words} (closest agreement: {', '.join(f'{k}={v}' for k, v in sorted(bound.items())) or 'no unknowns'})"
            for words in broken]


def explain_pair(planner: Planner, problem: Descriptor, model: Descriptor) -> list[Reason]:
    """Every reason ``problem`` × ``model`` yields no run (empty when it yields some)."""
    pm = (f"problem {problem.name}", f"model {model.name}")
    reasons: list[Reason] = []
    if problem.task != model.task:
        reasons.append(Reason("task", pm, f"problem {problem.name} is a {problem.task} task, model {model.name} solves {model.task}"))
    if why := conflict(problem, model):
        reasons.append(Reason("relation", pm, why))
    assert problem.input and problem.output and model.input and model.output
    if why := mismatch(model.output, problem.output):
        reasons.append(Reason("output type", pm, f"model output {model.output!r} cannot be problem target {problem.output!r}: {why}"))
    chains = planner.matcher.chains(problem.input.kind, model.input.kind, planner.max_chain)
    if not chains:
        reasons.append(Reason("converter chain", pm, f"no chain of at most {planner.max_chain} converters turns "
                              f"{problem.input.kind} into {model.input.kind} (installed converters: "
                              f"{', '.join(f'{c.name} {c.input!r}->{c.output!r}' for c in planner.matcher.converters) or 'none'})"))
    elif not mismatch(model.output, problem.output):
        found = planner.matcher(problem.input, problem.output, model)
        if isinstance(found, str):
            for chain in chains:
                via = " → ".join(c.name for c in chain) or "no converter"
                for words in violated_dims((f"problem {problem.name}", problem.input, problem.output), chain, model) or []:
                    reasons.append(Reason("dims", pm + tuple(f"converter {c.name}" for c in chain), f"via {via}: {words}"))
        else:
            reasons += _beyond_types(planner, problem, model, found.dims)
    return reasons


def _beyond_types(planner: Planner, problem: Descriptor, model: Descriptor, dims: Any) -> list[Reason]:
    """Reasons after the types agree: slots, constraints, trainers, platforms, memory."""
    pm = (f"problem {problem.name}", f"model {model.name}")
    reasons: list[Reason] = []
    comps = planner.composer.compositions(model, dims)
    if isinstance(comps, str):
        reasons.append(Reason("submodule", pm, comps))
    if model.hyper and not planner.grid(model, dims):
        pruned = "; ".join(f"{point_label(p)} violates {' and '.join(bad)}" for p, bad in pruned_points(model, dims))
        reasons.append(Reason("constraint", (f"model {model.name}",), f"every grid point is pruned with dims {dict(dims)}: {pruned}"))
    trainers = planner.catalog.of("trainer")
    fit = [t for t in trainers if not t.spec.tasks or problem.spec.task in t.spec.tasks]
    if not fit:
        reasons.append(Reason("trainer", pm, f"no installed trainer handles {problem.task} "
                              f"({', '.join(f'{t.name}: {list(map(str, t.spec.tasks))}' for t in trainers) or 'none installed'})"))
    for t in fit:
        if why := conflict(problem, t) or conflict(model, t):
            reasons.append(Reason("relation", pm + (f"trainer {t.name}",), why))
    platforms = planner.platforms()
    if not platforms:
        reasons += [Reason("platform", (f"{d.kind} {d.name}",), f"Fail: {d.failure}")
                    for d in planner.catalog.of("software") + planner.catalog.of("hardware") if d.failure]
        if not reasons or all(r.requirement != "platform" for r in reasons):
            reasons.append(Reason("platform", (), "no installed software runs on any installed hardware"))
    usable = []
    for sw, hw in platforms:
        if why := conflict(problem, sw) or conflict(problem, hw) or conflict(model, sw) or conflict(model, hw):
            reasons.append(Reason("relation", pm + (f"software {sw.name}", f"hardware {hw.name}"), why))
        else:
            usable.append((sw, hw))
    if usable and not isinstance(comps, str) and planner.grid(model, dims):
        too_big = [planner.memory_reason(model, dims, hm, fills, sw, hw)
                   for fills in comps for hm in planner.grid(model, dims) for sw, hw in usable]
        if all(too_big):
            reasons += [Reason("memory", pm, why) for why in dict.fromkeys(too_big) if why]
    return reasons


def unused(planner: Planner) -> Iterator[tuple[Descriptor, list[Reason]]]:
    """Every module that is in no feasible run, with the reasons of each of its pairings."""
    used: dict[str, set[str]] = {kind: set() for kind in ("problem", "model", "trainer", "software", "hardware")}
    for problem, model, fills, _, trainer, (sw, hw), *_ in planner.tuples():
        for kind, desc in (("problem", problem), ("model", model), ("trainer", trainer), ("software", sw), ("hardware", hw)):
            used[kind].add(desc.name)
        used["model"].update(fill.model for fill in walk(fills))  # a model used only inside a slot is used
    catalog = planner.catalog
    for desc in catalog:
        if desc.kind not in used or desc.name in used[desc.kind]:
            continue
        if desc.failure:
            yield desc, [Reason("Fail", (f"{desc.kind} {desc.name}",), desc.failure)]
        elif desc.kind == "problem":
            yield desc, [r for m in catalog.of("model") for r in explain_pair(planner, desc, m)]
        elif desc.kind == "model":
            yield desc, [r for p in catalog.of("problem") for r in explain_pair(planner, p, desc)]
        else:
            yield desc, [Reason(desc.kind, (f"{desc.kind} {desc.name}",), _why_unused(planner, desc))]


def _why_unused(planner: Planner, desc: Descriptor) -> str:
    if desc.kind == "trainer":
        tasks = sorted({str(p.task) for p in planner.catalog.of("problem")})
        return f"handles {[str(t) for t in desc.spec.tasks]}, installed problems are {tasks}, or relations exclude it"
    if desc.kind == "software" and desc.runtime:
        return f"runs on {list(desc.runtime.platforms)}; no usable hardware among them"
    if desc.kind == "hardware" and desc.device:
        return f"platform {desc.device.platform}: no installed software runs on it"
    return "no feasible pairing"
