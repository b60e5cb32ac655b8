"""``Require``: a model's slot for a submodule the planner fills from installed modules."""

from __future__ import annotations

from typing import cast

import attrs

from ._concepts import Task
from ._nn import Layer
from ._types import SailType


@attrs.frozen
class Requirement:
    """A submodule slot: a ``task`` network from ``input`` to ``output``."""

    task: Task
    input: SailType
    output: SailType

    def __repr__(self) -> str:
        return f"Require({self.task}, {self.input!r} -> {self.output!r})"


def Require(task: Task, input: SailType, output: SailType) -> Layer:  # noqa: N802,A002 - SAIL construct
    """Declare a submodule slot as a model's keyword-only parameter default.

    ``def deep_sets(x: Annotated[Input, Atoms("n")], *, phi: Layer = Require(Regress, Atom(),
    Scalar())) -> Annotated[Layer, Scalar()]: return Pipeline(Map(phi), Sum())``

    The planner fills ``phi`` with an installed model of that task, reached from ``input`` by
    a converter chain; when ``input`` is the element type of the model's input (a ``Set`` or
    ``Atoms``), the chain runs on every element. Typed as ``Layer`` so that mypy accepts it
    where the filled network goes, like ``Suggest``.
    """
    for t in (input, output):
        if not isinstance(t, SailType):
            raise TypeError(f"Require takes SAIL types, e.g. Require(Regress, Atom(), Scalar()); got {t!r}")
    return cast(Layer, Requirement(task, input, output))
