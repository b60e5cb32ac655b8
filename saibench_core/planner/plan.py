"""The planner: every feasible run of the catalog, and why the rest are left out.

Unary filters (describe-time ``Fail``s) first, then pairwise compatibility decided once per
distinct pair of signatures (problem × model through converter chains, software ×
hardware), then a join over the compatible pairs and the hyperparameter grids. Metrics and
rankings are attached to runs; they never multiply them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from sail_types._modules import ModuleKind

from ..discovery import Catalog, Descriptor
from . import rules
from .builds import Built, judge_all
from .compose import DEFAULT_DEPTH, Composer, Fill, build, defaults, walk
from .hyper import grid_points
from .match import Match, Matcher
from .memory import BYTES_PER_PARAMETER, parameters
from .relations import has_relations
from .rules import label, point_label

ROLES: tuple[ModuleKind, ...] = ("problem", "model", "trainer", "software", "hardware")


@attrs.frozen
class Run:
    """One feasible benchmark run: a module in each role, the converter chain adapting the
    problem to the model (and fallback chains), the model's filled submodule slots, bound
    dims, hyperparameters by role, attached metrics and rankings, a seed."""

    problem: str
    model: str
    trainer: str
    software: str
    hardware: str
    chain: tuple[str, ...]
    chain_cost: float
    dims: Mapping[str, int]
    hyper: Mapping[str, Mapping[str, Any]]
    metrics: tuple[str, ...]
    rankings: tuple[str, ...]
    seed: int = 0
    fallbacks: tuple[tuple[str, ...], ...] = ()
    fills: tuple[Fill, ...] = ()
    init_weights: str = ""  # "path#sha256" of saved weights to start from (fine-tuning)
    split: int = 0  # the data split: the problem's ``split_seed`` and the seed of the validation carve
    dataset_checksum: str = ""  # SHA-256 of the problem's arrays at this point, set by the campaign before running
    # fine-tuning: the run whose trained weights this one starts from (its JSON, sorted; "" for none), and the
    # prefix of the parameter paths carried over from it ("": all)
    start_from: str = ""
    start_keep: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict naming the module in each role."""
        return {
            **{role: getattr(self, role) for role in ROLES},
            "chain": list(self.chain), "chain_cost": self.chain_cost, "dims": dict(self.dims),
            "hyperparameters": {k: dict(v) for k, v in self.hyper.items()},
            "metrics": list(self.metrics), "rankings": list(self.rankings), "seed": self.seed,
            "fallback_chains": [list(c) for c in self.fallbacks], "fills": [f.to_json() for f in self.fills],
            "init_weights": self.init_weights, "split": self.split, "dataset_checksum": self.dataset_checksum,
            **({"start_from": self.start_from, "start_keep": self.start_keep} if self.start_from else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        """Inverse of ``to_json``."""
        return cls(
            **{role: data[role] for role in ROLES}, chain=tuple(data["chain"]),
            chain_cost=data["chain_cost"], dims=data["dims"], hyper=data["hyperparameters"],
            metrics=tuple(data["metrics"]), rankings=tuple(data["rankings"]), seed=data["seed"],
            fallbacks=tuple(tuple(c) for c in data.get("fallback_chains", ())),
            fills=tuple(Fill.from_json(f) for f in data.get("fills", ())),
            init_weights=data.get("init_weights", ""), split=data.get("split", 0),
            dataset_checksum=data.get("dataset_checksum", ""), start_from=data.get("start_from", ""),
            start_keep=data.get("start_keep", ""),
        )

    def modules(self) -> list[tuple[ModuleKind, str]]:
        """Every module the run uses, by kind: roles, chains, fills, metrics."""
        used: list[tuple[ModuleKind, str]] = [(role, getattr(self, role)) for role in ROLES]
        used += [("converter", name) for chain in (self.chain, *self.fallbacks) for name in chain]
        for fill in walk(self.fills):
            used.append(("model", fill.model))
            used += [("converter", name) for name in fill.chain]
        if self.pretraining is not None:  # the weights it starts from are as much a part of it as its own modules
            used += [module for module in self.pretraining.modules() if module not in used]
        return used + [("metric", name) for name in self.metrics]

    @property
    def pretraining(self) -> Run | None:
        """The run whose weights this one starts from (``None``: trained from scratch)."""
        return Run.from_json(json.loads(self.start_from)) if self.start_from else None

    @property
    def origin(self) -> str:
        """Where the weights start: ``""`` from scratch, else the pre-training run's problem
        and model: ``"particle_denoise×unet_denoiser"``."""
        before = self.pretraining
        return f"{before.problem}×{before.model_label}" if before is not None else ""

    @property
    def model_label(self) -> str:
        """The model with its filled slots: ``deep_sets[phi=embed_atom→mlp_regressor]``."""
        return self.model + "".join(f"[{f.label()}]" for f in self.fills)

    @property
    def started_label(self) -> str:
        """``model_label``, and for a fine-tuned run where its weights started:
        ``unet_segmenter ← particle_denoise×unet_denoiser``."""
        return self.model_label + (f" ← {self.origin}" if self.start_from else "")


@attrs.frozen
class LeftOut:
    """Modules (or a combination of them) that yield no run, and the reason."""

    modules: tuple[str, ...]
    reason: str


@attrs.frozen
class Plan:
    """The planner's answer."""

    runs: tuple[Run, ...]
    left_out: tuple[LeftOut, ...]


# A feasible run before it becomes a ``Run``: cheap to make, so plans of millions stream.
# (problem, model, fills, match, trainer, (software, hardware), problem/model/trainer hyper, (seed, split))
RunTuple = tuple[Descriptor, Descriptor, tuple[Fill, ...], Match, Descriptor, tuple[Descriptor, Descriptor], dict[str, Any], dict[str, Any], dict[str, Any], tuple[int, int]]
Repetition = tuple[int, int]  # (seed, split)


class Planner:
    """Plans a catalog by an indexed join that keeps exactly what ``rules`` accept.

    Problems (at each grid point, whose values may bind their dims) and models are grouped
    by signature, and each pair of groups is decided once (Z3 only where dims need
    arithmetic); relations, constraints, the models' ``Fail`` and memory then narrow the
    survivors, and the remaining roles join over precomputed compatible lists.

    Args:
        catalog: the modules to plan with (after ``select``).
        max_chain: the longest converter chain.
        depth: how deep submodule slots are filled.
        fillers: the models that may fill slots (default: the catalog's); a ``--model``
            filter selects runs' top-level models, not their submodules.
        contained: build model factories in a forked child (``False``: in this process).
    """

    def __init__(self, catalog: Catalog, *, max_chain: int = 3, depth: int = DEFAULT_DEPTH,
                 fillers: Sequence[Descriptor] | None = None, contained: bool = True) -> None:
        self.catalog = catalog
        self.max_chain = max_chain
        self.contained = contained
        self.matcher = Matcher(catalog.of("converter"), max_chain)
        # a Fitted model is no layer: it fills no slot
        self.composer = Composer([m for m in (catalog.of("model") if fillers is None else fillers) if not m.fitted], self.matcher, depth)
        self._grids: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._built: dict[tuple[Any, ...], Built] = {}
        self._conflicts: dict[tuple[str, str, str, str], bool] = {}

    def match(self, problem: Descriptor, model: Descriptor, hp: Mapping[str, Any] | None = None) -> Match | str:
        """How ``problem`` (at grid point ``hp``) reaches ``model``, or the reason it cannot."""
        if reasons := rules.task(problem, model):
            return reasons[0].detail
        found = rules.types(self, problem, hp if hp is not None else defaults(problem), model)
        return found if isinstance(found, Match) else "; ".join(r.detail for r in found)

    def plan(self, seeds: Sequence[int] = (0,)) -> Plan:
        """Every feasible run, and what was left out with reasons."""
        return Plan(tuple(self.runs(seeds)), tuple(self.left_out()))

    def platforms(self) -> list[tuple[Descriptor, Descriptor]]:
        """Every (software, hardware) pair that runs together."""
        return [(sw, hw) for sw in self.catalog.of("software") for hw in self.catalog.of("hardware") if not rules.platform(sw, hw)]

    def attached(self, problem: Descriptor) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The metrics and rankings that apply to ``problem``'s runs."""
        assert problem.output is not None and problem.spec.task is not None
        metrics = tuple(
            m.name for m in self.catalog.of("metric")
            if (not m.spec.tasks or any(problem.spec.task.accepts(t) for t in m.spec.tasks))
            and (m.input is None or m.input.kind == problem.output.kind)
        )
        rankings = tuple(r.name for r in self.catalog.of("ranking") if set(r.spec.metrics) <= set(metrics))
        return metrics, rankings

    def conflicts(self, a: Descriptor, b: Descriptor) -> bool:
        """Whether a relation excludes ``a`` with ``b`` (memoized per pair)."""
        key = (a.kind, a.name, b.kind, b.name)
        found = self._conflicts.get(key)
        if found is None:
            found = self._conflicts[key] = bool(rules.relation(a, b))
        return found

    def grid(self, module: Descriptor, dims: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
        """``module``'s grid points that satisfy its constraints (memoized)."""
        key = (module.name, module.kind, tuple(sorted(dims.items())) if dims and module.spec.constraints else None)
        found = self._grids.get(key)
        if found is None:
            found = self._grids[key] = grid_points(module, dims)
        return found

    def built(self, model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: tuple[Fill, ...]) -> Built:
        """What building ``model`` at this point says: its ``Fail``, its parameter count."""
        key = _point_key(model, dims, hyper, fills)
        if key not in self._built:
            self.build_points(model, dims, [dict(hyper)], [fills])
        return self._built[key]

    def build_points(self, model: Descriptor, dims: Mapping[str, int], points: Sequence[Mapping[str, Any]],
                     compositions: Sequence[tuple[Fill, ...]]) -> None:
        """Build every (point, fills) of ``model`` not built yet, in one contained batch."""
        todo = [(hm, fills) for fills in compositions for hm in points
                if _point_key(model, dims, hm, fills) not in self._built]
        if model.fn is None or model.input is None:
            self._built.update({_point_key(model, dims, hm, fills): Built() for hm, fills in todo})
            return
        model_input = model.input

        def job(hm: Mapping[str, Any], fills: tuple[Fill, ...]) -> tuple[Callable[[], Any], Callable[[Any], int | None]]:
            def size(layer: Any) -> int | None:
                sized = parameters(layer, model_input.shape(dims), dims)
                return sized[0] if sized else None
            return (lambda: build(self.catalog, model, dims, hm, fills)), size

        judged = judge_all([job(hm, fills) for hm, fills in todo], contained=self.contained)
        self._built.update({_point_key(model, dims, hm, fills): b for (hm, fills), b in zip(todo, judged)})

    def parameters(self, model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: tuple[Fill, ...]) -> int | None:
        """The model's parameter count at ``hyper``, or ``None`` if it cannot be sized."""
        return self.built(model, dims, hyper, fills).parameters

    def memory_reason(self, model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: tuple[Fill, ...],
                      software: Descriptor, hardware: Descriptor) -> str | None:
        """Why the model's parameters at ``hyper`` do not fit ``hardware``, or ``None``."""
        assert hardware.device is not None and software.runtime is not None
        if hardware.device.memory_bytes is None:
            return None
        count = self.parameters(model, dims, hyper, fills)
        if count is None:
            return None
        need = count * BYTES_PER_PARAMETER.get(software.runtime.precision, 4)
        if need <= hardware.device.memory_bytes:
            return None
        return (f"model {model.name} at {point_label(hyper)} has {count:,} parameters, {need / 2**20:,.1f} MiB in "
                f"{software.runtime.precision}, more than hardware {hardware.name}'s {hardware.device.memory_bytes / 2**20:,.1f} MiB")

    def viable_points(self, model: Descriptor, dims: Mapping[str, int], fills: tuple[Fill, ...]) -> list[dict[str, Any]]:
        """The model's grid points that pass its constraints and do not ``Fail`` when built."""
        points = self.grid(model, dims)
        if model.fn is None:
            return points
        return [hm for hm in points if self.built(model, dims, hm, fills).failure is None]

    def _related(self, module: Descriptor, others: list[Any], any_related: bool) -> list[Any]:
        """``others`` (modules, or (software, hardware) pairs) without those a relation
        excludes with ``module``; cheap when neither it nor any of them declares one."""
        if not has_relations(module) and not any_related:
            return others
        return [o for o in others if not any(self.conflicts(module, d) for d in (o if isinstance(o, tuple) else (o,)))]

    def tuples(self, seeds: Sequence[int] | Sequence[Repetition] = (0,)) -> Iterator[RunTuple]:
        """Stream feasible runs as tuples: problem-major, then problem point, model,
        composition, trainer, platform, grid point, repetition. The innermost product is
        built by ``itertools.product`` in C, so each feasible run costs a fraction of a
        microsecond. ``seeds`` are seeds (split 0) or ``(seed, split)`` repetitions."""
        reps = [s if isinstance(s, tuple) else (s, 0) for s in seeds]
        platforms = self.platforms()
        groups: dict[tuple[Any, ...], list[Descriptor]] = {}
        for model in self.catalog.of("model"):
            groups.setdefault((model.spec.task, model.input, model.output), []).append(model)
        sized = any(hw.device.memory_bytes is not None for _, hw in platforms)  # type: ignore[union-attr]
        # Fitted models take the ``fit`` pseudo-trainer, the others the installed trainers (``rules.fitting``)
        trainers = [t for t in self.catalog.of("trainer") if t.name != rules.FIT.name] + [rules.FIT]
        trainer_points: dict[str, list[dict[str, Any]]] = {t.name: [{}] if t is rules.FIT else self.grid(t) for t in trainers}
        related_trainers = any(has_relations(t) for t in trainers)
        related_platforms = any(has_relations(d) for pl in platforms for d in pl)
        for problem in self.catalog.of("problem"):
            assert problem.spec.task is not None
            p_trainers = self._related(problem, [t for t in trainers if not rules.trainer_task(problem, t) and trainer_points[t.name]],
                                       related_trainers)
            by_fitting = ([t for t in p_trainers if t is not rules.FIT], [t for t in p_trainers if t is rules.FIT])
            p_platforms = self._related(problem, platforms, related_platforms)
            by_signature: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
            for hp in self.grid(problem):
                by_signature.setdefault(rules.problem_types(problem, hp), []).append(hp)
            for (source_in, source_out), p_points in by_signature.items():
                for (model_task, _, _), group in groups.items():
                    if not problem.spec.task.accepts(model_task):
                        continue
                    found = self.matcher(source_in, source_out, group[0])
                    if isinstance(found, str):
                        continue
                    for model in group:
                        if (has_relations(problem) or has_relations(model)) and self.conflicts(problem, model):
                            continue
                        compositions = self.composer.compositions(model, found.dims) if model.slots else [()]
                        if isinstance(compositions, str):
                            continue
                        m_trainers = self._related(model, by_fitting[model.fitted], related_trainers)
                        m_platforms = self._related(model, p_platforms, related_platforms)
                        if model.fn is not None:
                            self.build_points(model, found.dims, self.grid(model, found.dims), compositions)
                        for fills in compositions:
                            m_points = self.viable_points(model, found.dims, fills)
                            if not m_points:
                                continue
                            for trainer in m_trainers:
                                t_platforms = self._related(trainer, m_platforms, related_platforms)
                                if not sized:
                                    yield from itertools.product((problem,), (model,), (fills,), (found,), (trainer,), t_platforms,
                                                                 p_points, m_points, trainer_points[trainer.name], reps)
                                    continue
                                # memory depends on the platform and the model's point only: decide each pair once
                                fits = {(i, j) for i, pl in enumerate(t_platforms) for j, hm in enumerate(m_points)
                                        if self.memory_reason(model, found.dims, hm, fills, *pl) is None}
                                for (i, pl), hp, (j, hm), ht, rep in itertools.product(
                                        enumerate(t_platforms), p_points, enumerate(m_points), trainer_points[trainer.name], reps):
                                    if (i, j) in fits:
                                        yield problem, model, fills, found, trainer, pl, hp, hm, ht, rep

    def runs(self, seeds: Sequence[int] | Sequence[Repetition] = (0,)) -> Iterator[Run]:
        """Stream the feasible runs (``seeds``: seeds, or ``(seed, split)`` repetitions)."""
        attached: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for problem, model, fills, found, trainer, (sw, hw), hp, hm, ht, (seed, split) in self.tuples(seeds):
            if problem.name not in attached:
                attached[problem.name] = self.attached(problem)
            metrics, rankings = attached[problem.name]
            yield Run(problem.name, model.name, trainer.name, sw.name, hw.name, found.chain, found.cost, found.dims,
                      {"problem": hp, "model": hm, "trainer": ht}, metrics, rankings, seed, found.fallbacks, fills, split=split)

    def left_out(self) -> Iterator[LeftOut]:
        """Why modules or combinations yield no run: the same rules the join applies
        (``explain`` gives each reason with its requirement)."""
        from .explain import explain_pair

        for broken in self.catalog.broken:
            yield LeftOut((broken.plugin,) + ((broken.module,) if broken.module else ()), broken.reason)
        platform_reasons = [r for sw in self.catalog.of("software") for hw in self.catalog.of("hardware") for r in rules.platform(sw, hw)]
        for reason in dict.fromkeys(platform_reasons):
            yield LeftOut(reason.modules, reason.detail)
        for problem in self.catalog.of("problem"):
            for model in self.catalog.of("model"):
                reasons = explain_pair(self, problem, model)
                if reasons:
                    yield LeftOut((label(problem), label(model)), "; ".join(dict.fromkeys(r.detail for r in reasons)))


def _point_key(model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: tuple[Fill, ...]) -> tuple[Any, ...]:
    return (model.name, tuple(sorted(dims.items())), tuple(sorted(hyper.items(), key=str)), tuple(map(_fill_key, fills)))


def _fill_key(fill: Fill) -> str:
    return json.dumps(fill.to_json(), sort_keys=True, default=str)

