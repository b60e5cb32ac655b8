"""Type descriptors with symbolic dimensions: the nouns of SAIL signatures.

A descriptor describes *one sample*; the batch axis is implicit. Dimensions are integers,
names (``"h"``) or simple arithmetic over names (``"h*w*c"``, ``"n+1"``), so that the
planner can unify them and Z3 can reason on them.
"""

from __future__ import annotations

import ast
import typing
from typing import Any, ClassVar

import attrs

from ._errors import InvalidSignature

Dim = int | str

_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
    ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.USub,
)


def dim_symbols(dim: Dim) -> frozenset[str]:
    """Names a dimension mentions: ``dim_symbols("h*w") == {"h", "w"}``."""
    if isinstance(dim, int):
        return frozenset()
    tree = ast.parse(dim, mode="eval")
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


def _check_dim(dim: object) -> Dim:
    if isinstance(dim, bool) or not isinstance(dim, (int, str)):
        raise InvalidSignature(repr(dim), "a dimension is an int or a string such as 'n' or 'h*w'")
    if isinstance(dim, int):
        if dim < 1:
            raise InvalidSignature(repr(dim), "a dimension must be at least 1")
        return dim
    try:
        tree = ast.parse(dim.strip(), mode="eval")
    except SyntaxError:
        raise InvalidSignature(repr(dim), "a dimension is an arithmetic expression over names; write e.g. 'h*w*c'") from None
    bad = [type(n).__name__ for n in ast.walk(tree) if not isinstance(n, _ALLOWED_NODES)]
    if bad or any(isinstance(n, ast.Constant) and not isinstance(n.value, int) for n in ast.walk(tree)):
        raise InvalidSignature(
            repr(dim), "dimensions use names, integers and + - * // only (e.g. 'h*w*c', 'n+1')"
        )
    return ast.unparse(tree)


@attrs.frozen(init=False, repr=False)
class SailType:
    """A SAIL type descriptor: a kind (the class) and a tuple of symbolic dimensions.

    Subclasses fix the number of dimensions with ``rank`` (``None``: any number).
    """

    rank: ClassVar[int | None] = None
    dims: tuple[Dim, ...]

    def __init__(self, *dims: Dim) -> None:
        checked = tuple(_check_dim(d) for d in dims)
        if self.rank is not None and len(checked) != self.rank:
            raise InvalidSignature(
                type(self).__name__, f"takes {self.rank} dimension(s), got {len(checked)}: {dims!r}"
            )
        self.__attrs_init__(checked)  # type: ignore[attr-defined, unused-ignore]

    @property
    def kind(self) -> str:
        """The descriptor's kind, which converters and models match on (``"Image"``)."""
        return type(self).__name__

    def element(self) -> SailType | None:
        """The type of one element, for collections a ``Map`` iterates over (else ``None``)."""
        return None

    def shape(self, bindings: typing.Mapping[str, int]) -> tuple[int, ...]:
        """The array shape of one sample, its dims evaluated with ``bindings``."""
        return tuple(evaluate_dim(d, bindings) for d in self.dims)

    def symbols(self) -> frozenset[str]:
        """Every dimension name this type mentions."""
        return frozenset().union(*(dim_symbols(d) for d in self.dims))

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(repr(d) for d in self.dims)})"

    @classmethod
    def from_annotation(cls, annotation: Any) -> SailType | None:
        """The SAIL descriptor carried by ``Annotated[T, descriptor]``, or ``None``.

        Example:
            >>> from typing import Annotated
            >>> SailType.from_annotation(Annotated[list, Tensor("d")])
            Tensor('d')
        """
        if typing.get_origin(annotation) is typing.Annotated:
            found = [m for m in annotation.__metadata__ if isinstance(m, SailType)]
            return found[0] if found else None
        return None


class Tensor(SailType):
    """A dense array with any number of dimensions: ``Tensor("d")``, ``Tensor(3, "n")``."""


class Scalar(SailType):
    """A single real number per sample (regression targets, energies)."""

    rank = 0


class Label(SailType):
    """A class index among ``k`` classes; as a model output, a score per class."""

    rank = 1


class Image(SailType):
    """An image of height, width and channels: ``Image("h", "w", "c")``."""

    rank = 3


class Sequence(SailType):
    """An ordered sequence: ``Sequence("n", "d")`` is ``n`` steps of ``d`` features."""

    rank = 2


class Set(SailType):
    """A permutation-invariant collection: ``Set("n", "d")``, ``n`` elements of ``d`` features."""

    rank = 2

    def element(self) -> SailType:
        """One element: ``Tensor(d)``."""
        return Tensor(self.dims[1])


class TimeSeries(SailType):
    """A time series of ``t`` steps and ``d`` channels: ``TimeSeries("t", "d")``."""

    rank = 2


class Atom(SailType):
    """One atom: its species index and its position, stored as ``(species, x, y, z)``."""

    rank = 0

    def shape(self, bindings: typing.Mapping[str, int]) -> tuple[int, ...]:
        """``(4,)``: species, x, y, z."""
        return (4,)


class Atoms(SailType):
    """An atomic configuration of ``n`` atoms, each an ``Atom``: shape ``(n, 4)`` per sample."""

    rank = 1

    def element(self) -> SailType:
        """One element: ``Atom()``."""
        return Atom()

    def shape(self, bindings: typing.Mapping[str, int]) -> tuple[int, ...]:
        """``(n, 4)``: species, x, y, z of each atom."""
        return (evaluate_dim(self.dims[0], bindings), 4)


class Configuration(SailType):
    """An atomic configuration and the box it is in: ``n`` atoms, shape ``(n + 1, 4)`` per
    sample. Row 0 is ``(0, a, b, c)``: the edge lengths in Å of its orthorhombic periodic
    cell, or zeros for a finite cluster without periodic boundaries; rows ``1..n`` are the
    atoms' ``(atomic number, x, y, z)`` in Å. Forces are the gradient ``-∂E/∂x[1:, 1:4]``.
    """

    rank = 1

    def shape(self, bindings: typing.Mapping[str, int]) -> tuple[int, ...]:
        """``(n + 1, 4)``: the cell row, then atomic number, x, y, z of each atom."""
        return (evaluate_dim(self.dims[0], bindings) + 1, 4)


def evaluate_dim(dim: Dim, bindings: typing.Mapping[str, int]) -> int:
    """The integer value of a dimension given values for its names.

    Raises:
        InvalidSignature: a name in ``dim`` has no value in ``bindings``.
    """
    if isinstance(dim, int):
        return dim
    missing = dim_symbols(dim) - set(bindings)
    if missing:
        raise InvalidSignature(repr(dim), f"dimension name(s) {sorted(missing)} are not bound by the plan")
    return int(eval(compile(ast.parse(dim, mode="eval"), "<dim>", "eval"), {"__builtins__": {}}, dict(bindings)))
