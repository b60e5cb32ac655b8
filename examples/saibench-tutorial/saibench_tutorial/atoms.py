"""A tutorial of sets and submodule slots: a generated energy problem, an atom-embedding
converter and a Deep Sets model whose per-atom network the planner fills.

It is a tutorial, not a chemistry benchmark: the energy comes from a formula that a sum of
per-atom terms represents exactly (a linear fit on 8 features solves it), so it shows how
``Map``, ``Sum``, ``Require`` and element converters compose, not how well a method
learns physics; for that, see saibench-chemistry's EMT molecular dynamics (``md_bulk``,
``md_cluster``).

Each sample is a configuration of ``n`` atoms stored as ``(species, x, y, z)`` rows. The
energy is a sum of per-atom terms - a species' reference energy plus a species' harmonic
confinement ``a_s |r|²`` - so it is permutation invariant and exactly what a Deep Sets
model can represent. Generated with a seeded NumPy generator: no download, same data on
every machine.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (
    Atom,
    Atoms,
    Dataset,
    Input,
    Layer,
    Map,
    Pipeline,
    Regress,
    Require,
    Scalar,
    Sum,
    Tensor,
    Test,
    Train,
    converter,
    model,
    problem,
)

SPECIES = ("H", "C", "N", "O")
REFERENCE_ENERGY = np.array([-0.5, -1.0, -1.5, -2.0], dtype=np.float64)
CONFINEMENT = np.array([0.2, 0.5, 0.8, 1.1], dtype=np.float64)

Configurations = Annotated[NDArray[np.float32], Atoms(8)]
Energies = Annotated[NDArray[np.float32], Scalar()]


def energies(configurations: NDArray[np.floating]) -> NDArray[np.float64]:
    """The exact energy of each configuration ``(N, n, 4)``."""
    species = configurations[..., 0].astype(int)
    r2 = np.sum(np.asarray(configurations[..., 1:], dtype=np.float64) ** 2, axis=-1)
    total: NDArray[np.float64] = np.sum(REFERENCE_ENERGY[species] + CONFINEMENT[species] * r2, axis=-1)
    return total


@problem(task=Regress, field="tutorial", kind="class", unit="eV")
def atom_energies(*, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> Dataset[Configurations, Energies]:
    """Tutorial: the energy of 8-atom configurations of H, C, N, O from a per-atom formula.

    Args:
        n_train, n_test: configurations generated for each split.
        seed: seed of the generator; the same seed gives the same data everywhere.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    species = rng.integers(0, len(SPECIES), size=(n, 8))
    positions = rng.normal(0.0, 0.7, size=(n, 8, 3))
    x = np.concatenate([species[..., None], positions], axis=-1).astype(np.float32)
    y = energies(x).astype(np.float32)
    checksum = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Dataset(train=Train(x[:n_train], y[:n_train]), test=Test(x[n_train:], y[n_train:]), checksum=checksum)


@converter(cost=1.0)
def embed_atom(x: Annotated[NDArray[np.float32], Atom()]) -> Annotated[NDArray[np.float32], Tensor(7)]:
    """One atom as features: a one-hot species code (4) and its position (3)."""
    one_hot = np.eye(len(SPECIES), dtype=np.float32)[x[:, 0].astype(int)]
    return np.concatenate([one_hot, x[:, 1:]], axis=1).astype(np.float32)


@model(task=Regress, field="tutorial")
def atom_sets(x: Annotated[Input, Atoms("n")], *, phi: Layer = Require(Regress, Atom(), Scalar())) -> Annotated[Layer, Scalar()]:
    """Deep Sets (Zaheer et al., 2017) over atoms: the sum of per-atom contributions
    ``φ(atom)``, permutation invariant by construction. ``φ`` is not written here: the
    planner fills it from installed models and converters mapping an ``Atom`` to a
    ``Scalar`` - ``embed_atom`` followed by the standard ``mlp_regressor``."""
    return Pipeline(Map(phi), Sum())
