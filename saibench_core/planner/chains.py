"""Converter chains: the cheapest sequence of converters that adapts one type to another.

Converters are edges of a graph over type kinds with a declared cost. Candidate chains are
simple paths (no kind visited twice) of at most ``max_length`` converters, tried cheapest
first (ties broken by length, then names), and the first whose dims unify wins.

Converters with the same signature are interchangeable for feasibility, so only the
``keep`` cheapest of each signature are walked: a chain through a worse one is preceded by
``keep`` equally feasible, cheaper chains, so it can never be among the first ``keep``
(the primary and its fallbacks). This keeps the search small when many plugins ship
parallel converters.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..discovery import Descriptor


def cheapest_per_signature(converters: Sequence[Descriptor], keep: int) -> list[Descriptor]:
    """The ``keep`` cheapest converters (by cost, then name) of each signature."""
    groups: dict[tuple[object, object], list[Descriptor]] = {}
    for conv in sorted(converters, key=lambda c: (c.spec.cost, c.name)):
        group = groups.setdefault((conv.input, conv.output), [])
        if len(group) < keep:
            group.append(conv)
    return [c for group in groups.values() for c in group]


def candidate_chains(source_kind: str, target_kind: str, converters: Sequence[Descriptor], max_length: int) -> list[tuple[Descriptor, ...]]:
    """Every simple converter path from ``source_kind`` to ``target_kind``, cheapest first.

    The empty chain comes first when the kinds already agree.
    """
    by_input: dict[str, list[Descriptor]] = {}
    for conv in converters:
        assert conv.input is not None and conv.output is not None
        by_input.setdefault(conv.input.kind, []).append(conv)
    found: list[tuple[Descriptor, ...]] = []

    def extend(path: tuple[Descriptor, ...], kind: str, visited: frozenset[str]) -> None:
        if kind == target_kind:
            found.append(path)
            return
        if len(path) == max_length:
            return
        for conv in by_input.get(kind, ()):
            nxt = conv.output.kind  # type: ignore[union-attr]
            if nxt not in visited:
                extend(path + (conv,), nxt, visited | {nxt})

    extend((), source_kind, frozenset({source_kind}))
    return sorted(found, key=chain_order)


def chain_order(chain: Sequence[Descriptor]) -> tuple[float, int, tuple[str, ...]]:
    """Sort key: total cost, then length, then names (deterministic tie-break)."""
    return (sum(c.spec.cost for c in chain), len(chain), tuple(c.name for c in chain))
