"""The planner: every feasible run of the catalog, and why the rest are left out.

Unary filters (describe-time ``Fail``s) first, then pairwise compatibility decided once per
distinct pair of signatures (problem × model through converter chains, software ×
hardware), then a join over the compatible pairs and the hyperparameter grids. Metrics and
rankings are attached to runs; they never multiply them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from sail_types._modules import ModuleKind

from ..discovery import Catalog, Descriptor
from .chains import candidate_chains
from .dims import chain_equalities, mismatch, unify

ROLES: tuple[ModuleKind, ...] = ("problem", "model", "trainer", "software", "hardware")


@attrs.frozen
class Run:
    """One feasible benchmark run: a module in each role, the converter chain adapting the
    problem to the model, bound dims, hyperparameters by role, attached metrics, a seed."""

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

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict naming the module in each role."""
        return {
            **{role: getattr(self, role) for role in ROLES},
            "chain": list(self.chain), "chain_cost": self.chain_cost, "dims": dict(self.dims),
            "hyperparameters": {k: dict(v) for k, v in self.hyper.items()},
            "metrics": list(self.metrics), "rankings": list(self.rankings), "seed": self.seed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        """Inverse of ``to_json``."""
        return cls(
            **{role: data[role] for role in ROLES}, chain=tuple(data["chain"]),
            chain_cost=data["chain_cost"], dims=data["dims"], hyper=data["hyperparameters"],
            metrics=tuple(data["metrics"]), rankings=tuple(data["rankings"]), seed=data["seed"],
        )


@attrs.frozen
class LeftOut:
    """Modules (or a combination of them) that yield no run, and the reason."""

    modules: tuple[str, ...]
    reason: str


@attrs.frozen
class Match:
    """How a problem reaches a model: the converter chain, its cost, the model's dims."""

    chain: tuple[str, ...]
    cost: float
    dims: Mapping[str, int]


@attrs.frozen
class Plan:
    """The planner's answer."""

    runs: tuple[Run, ...]
    left_out: tuple[LeftOut, ...]


def _label(desc: Descriptor) -> str:
    return f"{desc.kind} {desc.name}"


class Planner:
    """Plans a catalog. Pair decisions are memoized on the types involved, so a catalog of
    many modules with few distinct signatures costs few Z3 calls."""

    def __init__(self, catalog: Catalog, *, max_chain: int = 3) -> None:
        self.catalog = catalog
        self.max_chain = max_chain
        self.converters = catalog.of("converter")
        self._matches: dict[tuple[Any, ...], Match | str] = {}

    def match(self, problem: Descriptor, model: Descriptor) -> Match | str:
        """How ``problem`` reaches ``model``, or the reason it cannot."""
        if problem.task != model.task:
            return f"task {problem.task} vs {model.task}"
        assert problem.input and problem.output and model.input and model.output
        key = (problem.input, problem.output, model.input, model.output)
        if key not in self._matches:
            self._matches[key] = self._decide(problem, model)
        return self._matches[key]

    def _decide(self, problem: Descriptor, model: Descriptor) -> Match | str:
        assert problem.input and problem.output and model.input and model.output
        if reason := mismatch(model.output, problem.output):
            return f"model output {model.output!r} cannot be problem target {problem.output!r}: {reason}"
        chains = candidate_chains(problem.input.kind, model.input.kind, self.converters, self.max_chain)
        if not chains:
            return (f"no chain of at most {self.max_chain} converters turns {problem.input!r} "
                    f"into {model.input!r}")
        for chain in chains:
            steps = [(f"c{i}", c.input, c.output) for i, c in enumerate(chain)]
            pairs = chain_equalities(("problem", problem.input), steps, ("model", model.input))  # type: ignore[arg-type]
            pairs += ((("model", model.output), ("problem", problem.output)),)
            binding = unify(pairs)
            if binding is not None:
                return Match(tuple(c.name for c in chain), sum(c.spec.cost for c in chain), dict(binding.get("model", {})))
        via = ", ".join("→".join(c.name for c in ch) or "directly" for ch in chains)
        return f"dims cannot agree from {problem.input!r}/{problem.output!r} to {model.input!r}/{model.output!r} (tried: {via})"

    def plan(self, seeds: Sequence[int] = (0,)) -> Plan:
        """Every feasible run, and what was left out with reasons."""
        return Plan(tuple(self.runs(seeds)), tuple(self.left_out()))

    def _platforms(self) -> list[tuple[Descriptor, Descriptor]]:
        return [
            (sw, hw) for sw in self.catalog.of("software") for hw in self.catalog.of("hardware")
            if sw.runtime and hw.device and hw.device.platform in sw.runtime.platforms
        ]

    def _attached(self, problem: Descriptor) -> tuple[tuple[str, ...], tuple[str, ...]]:
        assert problem.output is not None
        metrics = tuple(
            m.name for m in self.catalog.of("metric")
            if (not m.spec.tasks or problem.spec.task in m.spec.tasks)
            and (m.input is None or m.input.kind == problem.output.kind)
        )
        rankings = tuple(r.name for r in self.catalog.of("ranking") if set(r.spec.metrics) <= set(metrics))
        return metrics, rankings

    def runs(self, seeds: Sequence[int] = (0,)) -> Iterator[Run]:
        """Stream the feasible runs: problem-major, then model, trainer, platform, grid, seed."""
        platforms = self._platforms()
        models = self.catalog.of("model")
        trainers = self.catalog.of("trainer")
        for problem in self.catalog.of("problem"):
            metrics, rankings = self._attached(problem)
            fit_trainers = [t for t in trainers if not t.spec.tasks or problem.spec.task in t.spec.tasks]
            for model in models:
                found = self.match(problem, model)
                if isinstance(found, str):
                    continue
                for trainer, (sw, hw) in itertools.product(fit_trainers, platforms):
                    for hyper in grid(problem, model, trainer):
                        for seed in seeds:
                            yield Run(problem.name, model.name, trainer.name, sw.name, hw.name,
                                      found.chain, found.cost, found.dims, hyper, metrics, rankings, seed)

    def left_out(self) -> Iterator[LeftOut]:
        """Why modules or combinations yield no run."""
        for broken in self.catalog.broken:
            yield LeftOut((broken.plugin,) + ((broken.module,) if broken.module else ()), broken.reason)
        for desc in self.catalog.of("software") + self.catalog.of("hardware"):
            if desc.failure:
                yield LeftOut((_label(desc),), f"Fail: {desc.failure}")
        for sw in self.catalog.of("software"):
            for hw in self.catalog.of("hardware"):
                if sw.runtime and hw.device and hw.device.platform not in sw.runtime.platforms:
                    yield LeftOut((_label(sw), _label(hw)), f"{sw.name} does not run on {hw.device.platform}")
        for problem in self.catalog.of("problem"):
            for model in self.catalog.of("model"):
                found = self.match(problem, model)
                if isinstance(found, str):
                    yield LeftOut((_label(problem), _label(model)), found)


def grid(*modules: Descriptor) -> Iterator[dict[str, dict[str, Any]]]:
    """The Cartesian product of the modules' hyperparameter grids, by role."""
    axes = [(m.kind, h.name, h.grid) for m in modules for h in m.hyper]
    for values in itertools.product(*(g for _, _, g in axes)):
        hyper: dict[str, dict[str, Any]] = {m.kind: {} for m in modules}
        for (kind, name, _), value in zip(axes, values):
            hyper[kind][name] = value
        yield hyper
