"""The reference planner: the SAIBench paper's Algorithm 1 (backtracking over roles), with
converter chains found by brute force and dims checked by substitution, not Z3. Obviously
correct, exponentially slow; used only to check the real planner."""

from __future__ import annotations

import itertools
from typing import Any

from saibench_core.discovery import Catalog, Descriptor


def _match(pattern: tuple[Any, ...], values: list[int], env: dict[str, int]) -> bool:
    if len(pattern) != len(values):
        return False
    for dim, value in zip(pattern, values):
        if isinstance(dim, int):
            if dim != value:
                return False
        elif env.setdefault(dim, value) != value:
            return False
    return True


def _forward(problem: Descriptor, chain: tuple[Descriptor, ...], model: Descriptor) -> dict[str, int] | None:
    kind, values = problem.input.kind, list(problem.input.dims)  # type: ignore[union-attr]
    for conv in chain:
        env: dict[str, int] = {}
        if conv.input.kind != kind or not _match(conv.input.dims, values, env):  # type: ignore[union-attr]
            return None
        values = [d if isinstance(d, int) else eval(d, {}, dict(env)) for d in conv.output.dims]  # type: ignore[union-attr]
        kind = conv.output.kind  # type: ignore[union-attr]
        if any(v < 1 for v in values):
            return None
    env = {}
    if model.input.kind != kind or not _match(model.input.dims, values, env):  # type: ignore[union-attr]
        return None
    if not _match(model.output.dims, list(problem.output.dims), env):  # type: ignore[union-attr]
        return None
    return env


def best_chain(problem: Descriptor, model: Descriptor, converters: list[Descriptor], max_chain: int) -> tuple[tuple[str, ...], float, dict[str, int]] | None:
    best = None
    for length in range(max_chain + 1):
        for chain in itertools.product(converters, repeat=length):
            kinds = [problem.input.kind] + [c.output.kind for c in chain]  # type: ignore[union-attr]
            if len(set(kinds)) != len(kinds):
                continue  # not a simple path
            env = _forward(problem, chain, model)
            if env is None:
                continue
            key = (sum(c.spec.cost for c in chain), len(chain), tuple(c.name for c in chain))
            if best is None or key < best[0]:
                best = (key, env)
    return None if best is None else (best[0][2], best[0][0], best[1])


def reference_plan(catalog: Catalog, max_chain: int = 3) -> set[tuple[Any, ...]]:
    """Every feasible run as a hashable tuple."""
    out: set[tuple[Any, ...]] = set()
    converters = catalog.of("converter")
    for p in catalog.of("problem"):
        for m in catalog.of("model"):
            if p.spec.task != m.spec.task:
                continue
            found = best_chain(p, m, converters, max_chain)
            if found is None:
                continue
            for t in catalog.of("trainer"):
                if t.spec.tasks and p.spec.task not in t.spec.tasks:
                    continue
                for sw in catalog.of("software"):
                    for hw in catalog.of("hardware"):
                        if hw.failure or sw.runtime is None or hw.device.platform not in sw.runtime.platforms:  # type: ignore[union-attr]
                            continue
                        for values in itertools.product(*(h.grid for h in m.hyper)):
                            hyper = tuple(zip((h.name for h in m.hyper), values))
                            out.add((p.name, m.name, t.name, sw.name, hw.name, found[0], found[1], tuple(sorted(found[2].items())), hyper))
    return out
