"""How a source (a problem, or a model's submodule slot) reaches a model.

The source's input goes through the cheapest converter chain whose dims unify with the
model's input, and the model's output must be the source's target. Decisions are memoized
on the types involved. Feasible chains after the first that bind the same dims are kept
as fallbacks, for the executor to try if a converter fails at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from sail_types import SailType, dim_symbols, evaluate_dim

from ..discovery import Descriptor
from .chains import candidate_chains, cheapest_per_signature
from .dims import Scoped, chain_equalities, mismatch, unify

MAX_FALLBACKS = 2


@attrs.frozen
class Match:
    """The converter chain, its cost, the model's bound dims, and fallback chains."""

    chain: tuple[str, ...]
    cost: float
    dims: Mapping[str, int]
    fallbacks: tuple[tuple[str, ...], ...] = ()


def bind(sail_type: SailType, dims: Mapping[str, int]) -> SailType:
    """``sail_type`` with every dim whose names are all bound replaced by its value."""
    values = [evaluate_dim(d, dims) if dim_symbols(d) <= dims.keys() else d for d in sail_type.dims]
    return type(sail_type)(*values)


def equalities(source_in: SailType, source_out: SailType, chain: Sequence[Descriptor], model: Descriptor) -> tuple[tuple[Scoped, Scoped], ...]:
    """The type equalities of ``source → chain → model`` and ``model output = target``,
    scoped ``source``, ``c0``, ``c1``..., ``model``."""
    steps = [(f"c{i}", c.input, c.output) for i, c in enumerate(chain)]
    pairs = chain_equalities(("source", source_in), steps, ("model", model.input))  # type: ignore[arg-type]
    return pairs + ((("model", model.output), ("source", source_out)),)  # type: ignore[operator]


class Matcher:
    """Decides and memoizes source → model matches over a set of converters."""

    def __init__(self, converters: Sequence[Descriptor], max_chain: int) -> None:
        self.converters = converters
        self.max_chain = max_chain
        self._walked = cheapest_per_signature(converters, keep=1 + MAX_FALLBACKS)
        self._memo: dict[tuple[Any, ...], Match | str] = {}
        self._chains: dict[tuple[str, str, int], list[tuple[Descriptor, ...]]] = {}

    def chains(self, source_kind: str, target_kind: str, max_length: int) -> list[tuple[Descriptor, ...]]:
        """Candidate chains between two kinds, cheapest first (memoized)."""
        key = (source_kind, target_kind, max_length)
        if key not in self._chains:
            self._chains[key] = candidate_chains(source_kind, target_kind, self._walked, max_length)
        return self._chains[key]

    def __call__(self, source_in: SailType, source_out: SailType, model: Descriptor, *, chains: bool = True) -> Match | str:
        """How a source with input ``source_in`` and target ``source_out`` reaches
        ``model``, or the reason it cannot. ``chains=False`` allows only a direct match."""
        key = (source_in, source_out, model.input, model.output, chains)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._decide(source_in, source_out, model, chains)
        return found

    def _decide(self, source_in: SailType, source_out: SailType, model: Descriptor, chains: bool) -> Match | str:
        assert model.input is not None and model.output is not None
        if reason := mismatch(model.output, source_out):
            return f"model output {model.output!r} cannot be the target {source_out!r}: {reason}"
        candidates = self.chains(source_in.kind, model.input.kind, self.max_chain if chains else 0)
        if not candidates:
            limit = f"at most {self.max_chain} converters" if chains else "no converter (not a set element)"
            return f"no chain of {limit} turns {source_in!r} into {model.input!r}"
        feasible: list[tuple[tuple[Descriptor, ...], dict[str, int]]] = []
        for chain in candidates:
            binding = unify(equalities(source_in, source_out, chain, model))
            if binding is None:
                continue
            dims = dict(binding.get("model", {}))
            if not feasible:
                feasible.append((chain, dims))
            elif dims == feasible[0][1]:
                feasible.append((chain, dims))
                if len(feasible) > MAX_FALLBACKS:
                    break
        if not feasible:
            via = ", ".join("→".join(c.name for c in ch) or "directly" for ch in candidates)
            return (f"dims cannot agree from {source_in!r}/{source_out!r} to {model.input!r}/{model.output!r} "
                    f"(tried: {via})")
        (chain, dims), rest = feasible[0], feasible[1:]
        return Match(tuple(c.name for c in chain), sum(c.spec.cost for c in chain), dims,
                     tuple(tuple(c.name for c in ch) for ch, _ in rest))
