"""Deep Sets (Zaheer et al., 2017): ``ρ(Σ φ(xᵢ))`` over the atoms of a configuration.

The per-atom network ``φ`` is not written here: the model Requires it, and the planner
fills it from whatever installed models and converters can map an ``Atom`` to a
``Scalar`` - for example ``embed_atom`` followed by the standard ``mlp_regressor``.
"""

from __future__ import annotations

from typing import Annotated

from sail_types import Atom, Atoms, Input, Layer, Map, Pipeline, Regress, Require, Scalar, Sum, model


@model(task=Regress, field="chemistry")
def deep_sets(x: Annotated[Input, Atoms("n")], *, phi: Layer = Require(Regress, Atom(), Scalar())) -> Annotated[Layer, Scalar()]:
    """Sum of per-atom contributions ``φ(atom)``: permutation invariant by construction."""
    return Pipeline(Map(phi), Sum())
