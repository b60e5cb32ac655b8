"""Constraint expressions: requirements over hyperparameters and signature dims.

Written as Python comparisons (``"kernel <= h"``, ``"width >= 2*depth and depth > 0"``);
checked for shape here, decided by Z3 in the planner.
"""

from __future__ import annotations

import ast

from ._errors import InvalidSignature

_ALLOWED = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Name, ast.Constant, ast.Load,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq,
)


def check_constraint(expr: str) -> str:
    """Normalise a constraint expression, or say what is wrong with it.

    Raises:
        InvalidSignature: not a comparison over names and numbers.
    """
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise InvalidSignature(repr(expr), "a constraint is a Python comparison such as 'kernel <= h'") from None
    bad = sorted({type(n).__name__ for n in ast.walk(tree) if not isinstance(n, _ALLOWED)})
    if bad or not isinstance(tree.body, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        raise InvalidSignature(repr(expr), "a constraint compares arithmetic over names and numbers "
                               f"(+ - * // %, and/or/not), e.g. 'width >= 2*depth'; found {', '.join(bad) or 'no comparison'}")
    return ast.unparse(tree)


def constraint_names(expr: str) -> frozenset[str]:
    """The names a constraint mentions."""
    return frozenset(n.id for n in ast.walk(ast.parse(expr, mode="eval")) if isinstance(n, ast.Name))
