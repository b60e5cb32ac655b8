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


def to_z3(expr: Dim, scope: str, symbols: dict[str, Any], values: Mapping[str, Any] | None = None) -> Any:
    """A Z3 term for a dim or constraint expression; names become ``scope.name`` integer
    unknowns in ``symbols``, unless ``values`` gives them a number."""
    if isinstance(expr, int):
        return z3.IntVal(expr)
    values = values or {}

    def num(value: Any) -> Any:
        return z3.IntVal(value) if isinstance(value, int) else z3.RealVal(value)

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return num(node.value)
        if isinstance(node, ast.Name):
            if node.id in values:
                return num(values[node.id])
            key = f"{scope}.{node.id}"
            if key not in symbols:
                symbols[key] = z3.Int(key)
            return symbols[key]
        if isinstance(node, ast.UnaryOp):
            operand = walk(node.operand)
            return z3.Not(operand) if isinstance(node.op, ast.Not) else -operand
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp):
            parts = [walk(v) for v in node.values]
            return z3.And(*parts) if isinstance(node.op, ast.And) else z3.Or(*parts)
        if isinstance(node, ast.Compare):
            terms = [walk(node.left)] + [walk(c) for c in node.comparators]
            return z3.And(*[_COMPARE[type(op)](a, b) for op, a, b in zip(node.ops, terms, terms[1:])])
        raise ValueError(f"unsupported expression {expr!r}")

    return walk(ast.parse(expr, mode="eval"))


_BINARY: dict[type, Any] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a / b, ast.Mod: lambda a, b: a % b,
}
_COMPARE: dict[type, Any] = {
    ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
}


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
    if all(isinstance(d, int) or d.isidentifier() for side in equalities for _, t in side for d in t.dims):
        return _unify_names(equalities)
    symbols: dict[str, Any] = {}
    solver = z3.Solver()
    solver.set("timeout", 5000)  # nonlinear integer arithmetic: unknown counts as infeasible
    for (lscope, ltype), (rscope, rtype) in equalities:
        for ldim, rdim in zip(ltype.dims, rtype.dims):
            solver.add(to_z3(ldim, lscope, symbols) == to_z3(rdim, rscope, symbols))
    solver.add(*[s >= 1 for s in symbols.values()])
    if solver.check() != z3.sat:
        return None
    found = solver.model()
    binding: dict[str, dict[str, int]] = {}
    for key, sym in sorted(symbols.items()):
        scope, name = key.split(".", 1)
        binding.setdefault(scope, {})[name] = found.eval(sym, model_completion=True).as_long()
    return binding


def _unify_names(equalities: tuple[tuple[Scoped, Scoped], ...]) -> Binding | None:
    """Union-find for systems of bare names and integers: what needs no Z3."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def node(scope: str, dim: Dim) -> Any:
        return dim if isinstance(dim, int) else (scope, dim)

    for (lscope, ltype), (rscope, rtype) in equalities:
        for ldim, rdim in zip(ltype.dims, rtype.dims):
            a, b = find(node(lscope, ldim)), find(node(rscope, rdim))
            if a == b:
                continue
            if isinstance(a, int) and isinstance(b, int):
                return None
            if isinstance(a, int):
                a, b = b, a
            parent[a] = b  # an integer stays the root of its class
    binding: dict[str, dict[str, int]] = {}
    for key in sorted((k for k in parent if not isinstance(k, int)), key=str):
        root = find(key)
        binding.setdefault(key[0], {})[key[1]] = root if isinstance(root, int) else 1
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
