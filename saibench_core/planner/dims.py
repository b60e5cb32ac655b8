"""Dimension unification with Z3.

A chain problem → converters → model is feasible when each module's output type equals
the next one's input type: same kind, same rank, and every pair of symbolic dims equal as
integer arithmetic, with every dim at least 1. Each module gets its own scope, so an ``h``
in a converter and an ``h`` in a model are different unknowns. Z3 decides the system,
including products such as ``h*w*c`` that plain substitution cannot invert.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import z3

from sail_types import Dim, SailType

Scoped = tuple[str, SailType]
Binding = Mapping[str, Mapping[str, int]]


def _to_z3(dim: Dim, scope: str, symbols: dict[str, Any]) -> Any:
    if isinstance(dim, int):
        return z3.IntVal(dim)

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return z3.IntVal(node.value)
        if isinstance(node, ast.Name):
            key = f"{scope}.{node.id}"
            if key not in symbols:
                symbols[key] = z3.Int(key)
            return symbols[key]
        if isinstance(node, ast.UnaryOp):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            ops = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right,
                   ast.Mult: lambda: left * right, ast.FloorDiv: lambda: left / right}
            return ops[type(node.op)]()  # type: ignore[no-untyped-call]
        raise ValueError(f"unsupported dimension expression {dim!r}")

    return walk(ast.parse(dim, mode="eval"))


def mismatch(a: SailType, b: SailType) -> str | None:
    """Why two types can never be equal whatever their dims, or ``None``."""
    if a.kind != b.kind:
        return f"{a!r} is not {b!r} (kind {a.kind} vs {b.kind})"
    if len(a.dims) != len(b.dims):
        return f"{a!r} and {b!r} differ in rank"
    return None


@functools.lru_cache(maxsize=65536)
def unify(equalities: tuple[tuple[Scoped, Scoped], ...]) -> Binding | None:
    """Solve ``left == right`` for every pair of scoped types.

    Returns:
        The value of every symbol by scope (``{"model": {"d": 64}}``), or ``None`` when the
        dims cannot agree. Memoized: each distinct system is decided once.
    """
    if any(mismatch(left[1], right[1]) for left, right in equalities):
        return None
    symbols: dict[str, Any] = {}
    solver = z3.Solver()
    solver.set("timeout", 5000)  # nonlinear integer arithmetic: unknown counts as infeasible
    for (lscope, ltype), (rscope, rtype) in equalities:
        for ldim, rdim in zip(ltype.dims, rtype.dims):
            solver.add(_to_z3(ldim, lscope, symbols) == _to_z3(rdim, rscope, symbols))
    solver.add(*[s >= 1 for s in symbols.values()])
    if solver.check() != z3.sat:
        return None
    found = solver.model()
    binding: dict[str, dict[str, int]] = {}
    for key, sym in sorted(symbols.items()):
        scope, name = key.split(".", 1)
        binding.setdefault(scope, {})[name] = found.eval(sym, model_completion=True).as_long()
    return binding


def chain_equalities(source: Scoped, steps: Sequence[tuple[str, SailType, SailType]], target: Scoped) -> tuple[tuple[Scoped, Scoped], ...]:
    """The equalities of ``source → step₁ → … → target``, each step (scope, input, output)."""
    pairs = []
    current = source
    for scope, inp, out in steps:
        pairs.append((current, (scope, inp)))
        current = (scope, out)
    pairs.append((current, target))
    return tuple(pairs)
