"""Submodule composition: filling a model's ``Require`` slots from installed modules.

A slot ``Require(task, In -> Out)`` is filled by a model of that task reached from ``In``
by a converter chain, its output ``Out``; when ``In`` is the element type of the host
model's input (a ``Set`` or ``Atoms``), the chain runs on every element, otherwise only a
direct match is allowed. Fillers may have slots of their own, filled recursively up to a
depth cap. Each combination of fillers is a distinct run; fillers use their default
hyperparameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from sail_types import Input, Layer

from ..discovery import Catalog, Descriptor, Slot
from ..errors import UsageError
from .match import Matcher, bind

DEFAULT_DEPTH = 2


@attrs.frozen
class Fill:
    """A filled slot: the model in it, the chain (run per element), its dims and fills."""

    slot: str
    model: str
    chain: tuple[str, ...]
    cost: float
    dims: Mapping[str, int]
    hyper: Mapping[str, Any]
    fills: tuple[Fill, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"slot": self.slot, "model": self.model, "chain": list(self.chain), "cost": self.cost,
                "dims": dict(self.dims), "hyperparameters": dict(self.hyper), "fills": [f.to_json() for f in self.fills]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fill:
        return cls(data["slot"], data["model"], tuple(data["chain"]), data["cost"], data["dims"],
                   data["hyperparameters"], tuple(cls.from_json(f) for f in data["fills"]))

    def label(self) -> str:
        inner = "".join(f"[{f.label()}]" for f in self.fills)
        via = "→".join(self.chain)
        return f"{self.slot}={via + '→' if via else ''}{self.model}{inner}"


def walk(fills: Sequence[Fill]) -> Iterator[Fill]:
    """Every fill, nested ones included, outermost first."""
    for fill in fills:
        yield fill
        yield from walk(fill.fills)


def defaults(module: Descriptor) -> dict[str, Any]:
    """A module's default hyperparameters (the first value of each grid)."""
    return {h.name: h.grid[0] for h in module.hyper}


class Composer:
    """Finds every way to fill a model's slots; memoized on (model, dims)."""

    def __init__(self, models: Sequence[Descriptor], matcher: Matcher, depth: int = DEFAULT_DEPTH) -> None:
        self.models = models
        self.matcher = matcher
        self.depth = depth
        self._memo: dict[tuple[Any, ...], list[tuple[Fill, ...]] | str] = {}

    def slot_fillers(self, host: Descriptor, slot: Slot, dims: Mapping[str, int], depth: int) -> list[Fill] | str:
        """Every filler of one slot, cheapest chain per model, or why there is none."""
        assert host.input is not None
        req = slot.requirement
        source_in, source_out = bind(req.input, dims), bind(req.output, dims)
        element = host.input.element()
        # converters run on the host's set elements, so only a top-level slot over them gets a chain
        per_element = depth == self.depth and element is not None and element.kind == req.input.kind
        fills: list[Fill] = []
        reasons = []
        for model in self.models:
            if model.spec.task is None or not req.task.accepts(model.spec.task):
                continue
            found = self.matcher(source_in, source_out, model, chains=per_element)
            if isinstance(found, str):
                reasons.append(f"{model.name}: {found}")
                continue
            inner = self.compositions(model, found.dims, depth - 1)
            if isinstance(inner, str):
                reasons.append(f"{model.name}: {inner}")
                continue
            fills += [Fill(slot.name, model.name, found.chain, found.cost, found.dims, defaults(model), sub) for sub in inner]
        if not fills:
            why = "; ".join(reasons) or f"no installed model of task {req.task}"
            return f"slot {slot.name} of model {host.name} ({req!r}) has no filler: {why}"
        return sorted(fills, key=lambda f: (f.cost, f.model))

    def compositions(self, model: Descriptor, dims: Mapping[str, int], depth: int | None = None) -> list[tuple[Fill, ...]] | str:
        """Every combination of fillers for ``model``'s slots (``[()]`` with no slot)."""
        if not model.slots:
            return [()]
        depth = self.depth if depth is None else depth
        if depth <= 0:
            return f"model {model.name} needs submodules beyond the composition depth cap"
        key = (model.name, tuple(sorted(dims.items())), depth)
        if key not in self._memo:
            per_slot = []
            for slot in model.slots:
                found = self.slot_fillers(model, slot, dims, depth)
                if isinstance(found, str):
                    self._memo[key] = found
                    return found
                per_slot.append(found)
            self._memo[key] = [tuple(combo) for combo in itertools.product(*per_slot)]
        return self._memo[key]


def build(catalog: Catalog, model: Descriptor, dims: Mapping[str, int], hyper: Mapping[str, Any], fills: Sequence[Fill]) -> Layer:
    """The declarative network of ``model`` at ``hyper``, its slots filled (no JAX)."""
    assert model.input is not None
    filled: dict[str, Layer] = {}
    for fill in fills:
        sub = catalog.get("model", fill.model)
        if sub is None:
            raise UsageError(f"model {fill.model!r} (filling slot {fill.slot} of {model.name}) is no longer installed; re-run `saibench solve`")
        filled[fill.slot] = build(catalog, sub, fill.dims, fill.hyper, fill.fills)
    layer: Layer = model.fn(Input(model.input, dict(dims)), **hyper, **filled)
    return layer
