"""Constraint expressions: requirements over hyperparameters and signature dims.

Written as Python comparisons (``"kernel <= h"``, ``"width >= 2*depth and depth > 0"``);
checked for shape here, decided by Z3 in the planner.
"""

from __future__ import annotations

import ast
import math

from ._errors import InvalidSignature

_ALLOWED = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Name, ast.Constant, ast.Load,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq,
)


def _number(node: ast.expr) -> str | None:
    """Why ``node`` is not integer/real arithmetic over names and numbers, or ``None``."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{value!r} is not a number"
        return None if math.isfinite(value) else f"{value!r} is not finite"
    if isinstance(node, ast.Name):
        return None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _number(node.operand)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and any(
                isinstance(n, ast.Constant) and isinstance(n.value, float) for n in ast.walk(node)):
            return f"{ast.unparse(node)!r} divides with a float; '//' and '%' take integers"
        return _number(node.left) or _number(node.right)
    return f"{ast.unparse(node)!r} is a condition where a number is expected"


def _condition(node: ast.expr) -> str | None:
    """Why ``node`` is not a comparison (or ``and``/``or``/``not`` of them), or ``None``."""
    if isinstance(node, ast.Compare):
        return next(filter(None, map(_number, [node.left, *node.comparators])), None)
    if isinstance(node, ast.BoolOp):
        return next(filter(None, map(_condition, node.values)), None)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _condition(node.operand)
    return f"{ast.unparse(node)!r} is a number where a comparison is expected"


def check_constraint(expr: str) -> str:
    """Normalise a constraint expression, or say what is wrong with it.

    Numbers on both sides of every comparison, comparisons under ``and``/``or``/``not``:
    what reaches Z3 in the planner is then always well typed.

    Raises:
        InvalidSignature: not a comparison over names and numbers.
    """
    if not isinstance(expr, str):
        raise InvalidSignature(repr(expr), "a constraint is a string such as 'kernel <= h'")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise InvalidSignature(repr(expr), "a constraint is a Python comparison such as 'kernel <= h'") from None
    bad = sorted({type(n).__name__ for n in ast.walk(tree) if not isinstance(n, _ALLOWED)})
    if bad or not isinstance(tree.body, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        raise InvalidSignature(repr(expr), "a constraint compares arithmetic over names and numbers "
                               f"(+ - * // %, and/or/not), e.g. 'width >= 2*depth'; found {', '.join(bad) or 'no comparison'}")
    wrong = _condition(tree.body)
    if wrong:
        raise InvalidSignature(repr(expr), f"{wrong}; a constraint compares arithmetic over hyperparameters, dims and "
                               "numbers, e.g. 'width >= 2*depth and kernel <= h'")
    return ast.unparse(tree)


def constraint_names(expr: str) -> frozenset[str]:
    """The names a constraint mentions."""
    return frozenset(n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name))
