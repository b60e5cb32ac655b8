"""The planner: every feasible run of the catalog, and why the rest are left out.

Unary filters (describe-time ``Fail``s) first, then pairwise compatibility decided once per
distinct pair of signatures (problem × model through converter chains, software ×
hardware), then a join over the compatible pairs and the hyperparameter grids. Metrics and
rankings are attached to runs; they never multiply them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from sail_types._modules import ModuleKind

from ..discovery import Catalog, Descriptor
from .compose import DEFAULT_DEPTH, Composer, Fill, build, walk
from .hyper import grid_points
from .match import Match, Matcher
from .memory import BYTES_PER_PARAMETER, parameters
from .relations import conflict, has_relations

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

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict naming the module in each role."""
        return {
            **{role: getattr(self, role) for role in ROLES},
            "chain": list(self.chain), "chain_cost": self.chain_cost, "dims": dict(self.dims),
            "hyperparameters": {k: dict(v) for k, v in self.hyper.items()},
            "metrics": list(self.metrics), "rankings": list(self.rankings), "seed": self.seed,
            "fallback_chains": [list(c) for c in self.fallbacks], "fills": [f.to_json() for f in self.fills],
            "init_weights": self.init_weights, "split": self.split, "dataset_checksum": self.dataset_checksum,
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
            dataset_checksum=data.get("dataset_checksum", ""),
        )

    def modules(self) -> list[tuple[ModuleKind, str]]:
        """Every module the run uses, by kind: roles, chains, fills, metrics."""
        used: list[tuple[ModuleKind, str]] = [(role, getattr(self, role)) for role in ROLES]
        used += [("converter", name) for chain in (self.chain, *self.fallbacks) for name in chain]
        for fill in walk(self.fills):
            used.append(("model", fill.model))
            used += [("converter", name) for name in fill.chain]
        return used + [("metric", name) for name in self.metrics]

    @property
    def model_label(self) -> str:
        """The model with its filled slots: ``deep_sets[phi=embed_atom→mlp_regressor]``."""
        return self.model + "".join(f"[{f.label()}]" for f in self.fills)


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


def _label(desc: Descriptor) -> str:
    return f"{desc.kind} {desc.name}"


# A feasible run before it becomes a ``Run``: cheap to make, so plans of millions stream.
# (problem, model, fills, match, trainer, (software, hardware), problem/model/trainer hyper, seed)
RunTuple = tuple[Descriptor, Descriptor, tuple[Fill, ...], Match, Descriptor, tuple[Descriptor, Descriptor], dict[str, Any], dict[str, Any], dict[str, Any], int]


class Planner:
    """Plans a catalog by an indexed join.

    Problems and models are grouped by signature, and each pair of groups is decided once
    (Z3 only where dims need arithmetic); relations, constraints and memory then narrow the
    survivors, and the remaining roles join over precomputed compatible lists.
    """

    def __init__(self, catalog: Catalog, *, max_chain: int = 3, depth: int = DEFAULT_DEPTH) -> None:
        self.catalog = catalog
        self.max_chain = max_chain
        self.matcher = Matcher(catalog.of("converter"), max_chain)
        self.composer = Composer(catalog.of("model"), self.matcher, depth)
        self._grids: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        self._params: dict[tuple[Any, ...], int | None] = {}

    def match(self, problem: Descriptor, model: Descriptor) -> Match | str:
        """How ``problem`` reaches ``model``, or the reason it cannot."""
        if problem.task != model.task:
            return f"task {problem.task} vs {model.task}"
        assert problem.input and problem.output
        return self.matcher(problem.input, problem.output, model)

    def plan(self, seeds: Sequence[int] = (0,)) -> Plan:
        """Every feasible run, and what was left out with reasons."""
        return Plan(tuple(self.runs(seeds)), tuple(self.left_out()))

    def platforms(self) -> list[tuple[Descriptor, Descriptor]]:
        """Every (software, hardware) pair that runs together."""
        return [
            (sw, hw) for sw in self.catalog.of("software") for hw in self.catalog.of("hardware")
            if sw.runtime and hw.device and hw.device.platform in sw.runtime.platforms and not conflict(sw, hw)
        ]

    def attached(self, problem: Descriptor) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The metrics and rankings that apply to ``problem``'s runs."""
        assert problem.output is not None
        metrics = tuple(
            m.name for m in self.catalog.of("metric")
            if (not m.spec.tasks or problem.spec.task in m.spec.tasks)
            and (m.input is None or m.input.kind == problem.output.kind)
        )
        rankings = tuple(r.name for r in self.catalog.of("ranking") if set(r.spec.metrics) <= set(metrics))
        return metrics, rankings

    def grid(self, module: Descriptor, dims: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
        """``module``'s grid points that satisfy its constraints (memoized)."""
        key = (module.name, module.kind, tuple(sorted(dims.items())) if dims and module.spec.constraints else None)
        found = self._grids.get(key)
        if found is None:
            found = self._grids[key] = grid_points(module, dims)
        return found

    def parameters(self, model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: tuple[Fill, ...]) -> int | None:
        """The model's parameter count at ``hyper``, or ``None`` if it cannot be sized."""
        key = (model.name, tuple(sorted(dims.items())), tuple(sorted(hyper.items())), tuple(map(_fill_key, fills)))
        if key not in self._params:
            count = None
            if model.fn is not None and model.input is not None:
                try:
                    sized = parameters(build(self.catalog, model, dims, hyper, fills), model.input.shape(dims), dims)
                    count = sized[0] if sized else None
                except Exception:  # noqa: BLE001 - a model that cannot be built now fails at run time, with its reason
                    count = None
            self._params[key] = count
        return self._params[key]

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

    def tuples(self, seeds: Sequence[int] = (0,)) -> Iterator[RunTuple]:
        """Stream feasible runs as tuples: problem-major, then model, composition,
        trainer, platform, grid point, seed. The innermost product is built by
        ``itertools.product`` in C, so each feasible run costs a fraction of a microsecond."""
        platforms = self.platforms()
        groups: dict[tuple[Any, ...], list[Descriptor]] = {}
        for model in self.catalog.of("model"):
            groups.setdefault((model.task, model.input, model.output), []).append(model)
        sized = any(hw.device.memory_bytes is not None for _, hw in platforms)  # type: ignore[union-attr]
        trainer_points = {t.name: self.grid(t) for t in self.catalog.of("trainer")}
        for problem in self.catalog.of("problem"):
            p_points = self.grid(problem)
            p_related = has_relations(problem)
            fit_trainers = [t for t in self.catalog.of("trainer")
                            if (not t.spec.tasks or problem.spec.task in t.spec.tasks) and not conflict(problem, t)]
            p_platforms = [pl for pl in platforms if not (conflict(problem, pl[0]) or conflict(problem, pl[1]))]
            for group in groups.values():
                found = self.match(problem, group[0])
                if isinstance(found, str):
                    continue
                for model in group:
                    m_related = has_relations(model)
                    if (p_related or m_related) and conflict(problem, model):
                        continue
                    compositions = self.composer.compositions(model, found.dims) if model.slots else [()]
                    if isinstance(compositions, str):
                        continue
                    m_points = self.grid(model, found.dims)
                    m_trainers, m_platforms = fit_trainers, p_platforms
                    if m_related:
                        m_trainers = [t for t in fit_trainers if not conflict(model, t)]
                        m_platforms = [pl for pl in p_platforms if not (conflict(model, pl[0]) or conflict(model, pl[1]))]
                    for fills in compositions:
                        for trainer in m_trainers:
                            t_platforms = m_platforms
                            if has_relations(trainer):
                                t_platforms = [pl for pl in m_platforms if not (conflict(trainer, pl[0]) or conflict(trainer, pl[1]))]
                            if not sized:
                                yield from itertools.product((problem,), (model,), (fills,), (found,), (trainer,), t_platforms,
                                                             p_points, m_points, trainer_points[trainer.name], seeds)
                                continue
                            # memory depends on the platform and the model's point only: decide each pair once
                            fits = {(i, j) for i, pl in enumerate(t_platforms) for j, hm in enumerate(m_points)
                                    if self.memory_reason(model, found.dims, hm, fills, *pl) is None}
                            for (i, pl), hp, (j, hm), ht, seed in itertools.product(
                                    enumerate(t_platforms), p_points, enumerate(m_points), trainer_points[trainer.name], seeds):
                                if (i, j) in fits:
                                    yield problem, model, fills, found, trainer, pl, hp, hm, ht, seed

    def runs(self, seeds: Sequence[int] = (0,)) -> Iterator[Run]:
        """Stream the feasible runs."""
        attached: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for problem, model, fills, found, trainer, (sw, hw), hp, hm, ht, seed in self.tuples(seeds):
            if problem.name not in attached:
                attached[problem.name] = self.attached(problem)
            metrics, rankings = attached[problem.name]
            yield Run(problem.name, model.name, trainer.name, sw.name, hw.name, found.chain, found.cost, found.dims,
                      {"problem": hp, "model": hm, "trainer": ht}, metrics, rankings, seed, found.fallbacks, fills)

    def left_out(self) -> Iterator[LeftOut]:
        """Why modules or combinations yield no run (``explain`` lists every reason)."""
        for broken in self.catalog.broken:
            yield LeftOut((broken.plugin,) + ((broken.module,) if broken.module else ()), broken.reason)
        for desc in self.catalog.of("software") + self.catalog.of("hardware"):
            if desc.failure:
                yield LeftOut((_label(desc),), f"Fail: {desc.failure}")
        for sw in self.catalog.of("software"):
            for hw in self.catalog.of("hardware"):
                if sw.runtime and hw.device and hw.device.platform not in sw.runtime.platforms:
                    yield LeftOut((_label(sw), _label(hw)), f"{sw.name} does not run on {hw.device.platform}")
                elif reason := conflict(sw, hw):
                    yield LeftOut((_label(sw), _label(hw)), reason)
        for problem in self.catalog.of("problem"):
            for model in self.catalog.of("model"):
                found = self.match(problem, model)
                if isinstance(found, str):
                    yield LeftOut((_label(problem), _label(model)), found)
                elif reason := conflict(problem, model):
                    yield LeftOut((_label(problem), _label(model)), reason)
                elif isinstance(comps := self.composer.compositions(model, found.dims), str):
                    yield LeftOut((_label(problem), _label(model)), comps)
                elif not self.grid(model, found.dims):
                    yield LeftOut((_label(problem), _label(model)), f"every grid point of {model.name} violates {' or '.join(model.spec.constraints)}")


def _fill_key(fill: Fill) -> str:
    return json.dumps(fill.to_json(), sort_keys=True, default=str)


def point_label(hyper: Mapping[str, Any]) -> str:
    """``width=64, depth=2``, or ``its defaults`` for an empty point."""
    return ", ".join(f"{k}={v}" for k, v in hyper.items()) or "its defaults"
