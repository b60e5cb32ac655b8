"""saibench-chemistry: atomistic problems and permutation-invariant models."""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .atoms import SPECIES, atom_energies, embed_atom
from .deep_sets import deep_sets

__all__ = ["SPECIES", "atom_energies", "deep_sets", "embed_atom"]


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The chemistry modules."""
    return [atom_energies, embed_atom, deep_sets]
