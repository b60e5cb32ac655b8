"""Explanations: every rule a pairing violates, not just the first.

``explain_pair`` walks the same candidates as the planner's join, stage by stage, with the
same rules (``rules.py``): the problem's grid points and the types, then the model's
slots, grid points, constraints and ``Fail``, then trainers, then platforms, then what
only a whole combination decides (a trainer's relation with a platform, memory). A stage
in which no candidate survives contributes the reasons of all its candidates; the pairing
is feasible exactly when every stage has a survivor and some combination passes, which is
when ``solve`` plans at least one run of it (a property test checks this).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..discovery import Descriptor
from . import rules
from .compose import Fill, walk
from .dims import mismatch
from .hyper import all_points
from .match import Match, bind
from .plan import Planner
from .rules import Reason, label

__all__ = ["Reason", "explain_pair", "unused"]


def _dedupe(reasons: list[Reason]) -> list[Reason]:
    return list(dict.fromkeys(reasons))


def _model_stage(planner: Planner, problem: Descriptor, model: Descriptor,
                 matches: list[tuple[dict[str, Any], Match]]) -> tuple[list[tuple[Match, tuple[Fill, ...], dict[str, Any]]], list[Reason]]:
    """The (match, fills, model point) candidates that pass slots, constraints and
    ``Fail``, and the reasons of those that do not."""
    survivors: list[tuple[Match, tuple[Fill, ...], dict[str, Any]]] = []
    reasons: list[Reason] = []
    for dims_match in {tuple(sorted(m.dims.items())): m for _, m in matches}.values():
        comps = planner.composer.compositions(model, dims_match.dims) if model.slots else [()]
        if isinstance(comps, str):
            reasons.append(Reason("submodule", (label(problem), label(model)), comps))
            continue
        for hm in all_points(model):
            constrained = rules.constraint(model, hm, dims_match.dims)
            reasons += constrained
            for fills in comps:  # judged even where a constraint fails: every violated rule is a reason
                if why := rules.model_fail(planner, model, dims_match.dims, hm, fills):
                    reasons += why
                elif not constrained:
                    survivors.append((dims_match, fills, hm))
    return survivors, reasons


def _exploratory(planner: Planner, problem: Descriptor, model: Descriptor) -> list[Reason]:
    """When no type matches, the model's constraints and ``Fail`` judged without dims
    (or with what the target alone binds): a model wrong in several ways gets each."""
    assert model.output is not None and problem.output is not None
    dims: dict[str, int] = {}
    target = bind(problem.output, {})
    if not mismatch(model.output, target):
        dims = {d: v for d, v in zip(model.output.dims, target.dims) if isinstance(d, str) and isinstance(v, int)}
    points = list(all_points(model))
    constrained = [rules.constraint(model, hm, None) for hm in points]
    failing = [rules.model_fail(planner, model, dims, hm, ()) if not model.slots else [] for hm in points]
    reasons: list[Reason] = []
    if points and all(constrained):
        reasons += [r for why in constrained for r in why]
    if points and all(failing):
        reasons += [r for why in failing for r in why]
    return reasons


def explain_pair(planner: Planner, problem: Descriptor, model: Descriptor) -> list[Reason]:
    """Every reason ``problem`` × ``model`` yields no run (empty when it yields some)."""
    reasons = rules.task(problem, model) + rules.relation(problem, model)
    matches: list[tuple[dict[str, Any], Match]] = []
    type_reasons: list[Reason] = []
    for hp in planner.grid(problem):
        found = rules.types(planner, problem, hp, model)
        if isinstance(found, Match):
            matches.append((hp, found))
        else:
            type_reasons += found
    if not matches:
        return _dedupe(reasons + type_reasons + _exploratory(planner, problem, model))
    survivors, model_reasons = _model_stage(planner, problem, model, matches)
    if not survivors:
        reasons += model_reasons
    trainers, trainer_reasons = _trainer_stage(planner, problem, model)
    if not trainers:
        reasons += trainer_reasons
    platforms, platform_reasons = _platform_stage(planner, problem, model)
    if not platforms:
        reasons += platform_reasons
    if reasons:
        return _dedupe(reasons)
    return _dedupe(_combination_stage(planner, model, survivors, trainers, platforms))


def _trainer_stage(planner: Planner, problem: Descriptor, model: Descriptor) -> tuple[list[Descriptor], list[Reason]]:
    """The trainers the pairing can take: the installed ones, and for a ``Fitted`` model the
    ``fit`` pseudo-trainer too (then each installed one says why it cannot fit it)."""
    survivors, reasons = [], []
    trainers = planner.catalog.of("trainer") + ([rules.FIT] if model.fitted else [])
    if not trainers:
        reasons.append(Reason("trainer", (label(problem),), "no trainer is installed"))
    for t in trainers:
        why = rules.fitting(model, t) + rules.trainer_task(problem, t) + rules.relation(problem, t) + rules.relation(model, t)
        if t is not rules.FIT and not planner.grid(t):
            why.append(Reason("constraint", (label(t),), f"every grid point of trainer {t.name} violates {' or '.join(t.spec.constraints)}"))
        if why:
            reasons += why
        else:
            survivors.append(t)
    return survivors, reasons


def _platform_stage(planner: Planner, problem: Descriptor, model: Descriptor) -> tuple[list[tuple[Descriptor, Descriptor]], list[Reason]]:
    survivors, reasons = [], []
    pairs = [(sw, hw) for sw in planner.catalog.of("software") for hw in planner.catalog.of("hardware")]
    if not pairs:
        reasons.append(Reason("platform", (), "no software or no hardware module is installed"))
    for sw, hw in pairs:
        why = rules.platform(sw, hw) + [r for d in (sw, hw) for r in rules.relation(problem, d) + rules.relation(model, d)]
        if why:
            reasons += why
        else:
            survivors.append((sw, hw))
    return survivors, reasons


def _combination_stage(planner: Planner, model: Descriptor, survivors: list[tuple[Match, tuple[Fill, ...], dict[str, Any]]],
                       trainers: list[Descriptor], platforms: list[tuple[Descriptor, Descriptor]]) -> list[Reason]:
    """Reasons that only a whole run decides; empty when some combination passes."""
    reasons: list[Reason] = []
    for trainer in trainers:
        for sw, hw in platforms:
            if why := rules.relation(trainer, sw) + rules.relation(trainer, hw):
                reasons += why
                continue
            for found, fills, hm in survivors:
                if why := rules.memory(planner, model, found.dims, hm, fills, sw, hw):
                    reasons += why
                else:
                    return []
    return reasons


def unused(planner: Planner) -> Iterator[tuple[Descriptor, list[Reason]]]:
    """Every module that is in no feasible run, with the reasons of each of its pairings
    (each reason names the problem and model it is about)."""
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
            yield desc, [Reason("Fail", (label(desc),), f"{desc.kind} {desc.name} raised Fail: {desc.failure}")]
        elif desc.kind == "problem":
            yield desc, [_about(r, desc, m) for m in catalog.of("model") for r in explain_pair(planner, desc, m)]
        elif desc.kind == "model":
            yield desc, [_about(r, p, desc) for p in catalog.of("problem") for r in explain_pair(planner, p, desc)]
        else:
            yield desc, _why_unused(planner, desc)


def _about(reason: Reason, problem: Descriptor, model: Descriptor) -> Reason:
    """``reason`` with the pairing it is about in front of its modules."""
    pair = (label(problem), label(model))
    return Reason(reason.requirement, pair + tuple(m for m in reason.modules if m not in pair), reason.detail)


def _why_unused(planner: Planner, desc: Descriptor) -> list[Reason]:
    """Why a trainer, software or hardware module is in no run: its rules against every
    problem and platform."""
    problems = planner.catalog.of("problem")
    if desc.kind == "trainer":
        reasons = [r for p in problems for r in rules.trainer_task(p, desc) + rules.relation(p, desc)]
        reasons += [r for m in planner.catalog.of("model") for r in rules.relation(m, desc) + rules.fitting(m, desc)]
        return _dedupe(reasons) or [Reason("trainer", (label(desc),), "its rules hold, but no feasible problem × model pairing "
                                           "leaves a platform it can run with")]
    partners = planner.catalog.of("hardware" if desc.kind == "software" else "software")
    reasons = [r for p in partners for r in (rules.platform(desc, p) if desc.kind == "software" else rules.platform(p, desc))]
    return _dedupe(reasons) or [Reason(desc.kind, (label(desc),), "no feasible problem × model pairing can run on it")]

