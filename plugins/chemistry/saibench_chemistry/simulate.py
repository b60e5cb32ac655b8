# mypy: untyped-calls-exclude=ase
"""Molecular dynamics of copper with ASE's effective-medium potential (EMT): the simulator
behind the chemistry problems.

Two systems, both at EMT's own fcc lattice constant ``EMT_LATTICE_CONSTANT``:

- ``"bulk"``: 2x2x2 conventional fcc cells, 32 atoms, periodic, in a fixed cubic box of
  edge ``2 a₀ ≈ 7.18 Å`` (at least twice the descriptors' 3.5 Å cutoff, so the minimum
  image is the only image within it);
- ``"cluster"``: a 38-atom truncated octahedron (``ase.cluster.Octahedron("Cu", 4,
  cutoff=1)``), no periodic boundaries, centred on the origin.

Each trajectory starts from its own seeded Maxwell-Boltzmann velocities and a small seeded
random displacement, is thermalised by Langevin dynamics (NVT, fixed volume), then sampled
every ``interval`` steps. Everything is float64; the same seed gives the same trajectories.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.cluster import Octahedron
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation
from numpy.typing import NDArray

from sail_types import InvalidValue

EMT_LATTICE_CONSTANT = 3.5898
"""Å: the lattice constant minimising EMT's energy per atom of fcc copper (3.58983 Å by a
bounded scalar minimisation; the tests check it is the minimum)."""

SYSTEMS = ("bulk", "cluster")
COPPER = 29

Progress = Callable[[float, str], None]
F64 = NDArray[np.float64]


@attrs.frozen(eq=False)
class Trajectories:
    """Frames of ``T`` independent trajectories of ``n`` atoms, ``F`` frames each (float64).

    Attributes:
        numbers: atomic numbers ``(n,)``.
        cell: the orthorhombic cell's edges ``(3,)`` in Å; zeros for a cluster.
        masses: atomic masses ``(n,)`` in amu.
        positions: ``(T, F, n, 3)`` in Å, wrapped into the cell where it is periodic.
        velocities: ``(T, F, n, 3)`` in ASE's units (Å per ASE time unit).
        energies: potential energies ``(T, F)`` in eV (total, not per atom).
        forces: ``(T, F, n, 3)`` in eV/Å.
    """

    numbers: NDArray[np.int64]
    cell: F64
    masses: F64
    positions: F64
    velocities: F64
    energies: F64
    forces: F64

    @property
    def n_atoms(self) -> int:
        """Atoms in each configuration."""
        return len(self.numbers)


def build(system: str) -> Atoms:
    """The ideal structure of ``system`` (``"bulk"`` or ``"cluster"``), EMT attached.

    Raises:
        InvalidValue: an unknown system.
    """
    if system == "bulk":
        atoms: Atoms = bulk("Cu", "fcc", a=EMT_LATTICE_CONSTANT, cubic=True).repeat((2, 2, 2))
    elif system == "cluster":
        atoms = Atoms(Octahedron("Cu", 4, cutoff=1, latticeconstant=EMT_LATTICE_CONSTANT))
        atoms.positions -= atoms.positions.mean(axis=0)
        atoms.cell = np.zeros((3, 3))
        atoms.pbc = False
    else:
        raise InvalidValue(f"saibench_chemistry.simulate.build({system!r})", f"system is one of {', '.join(SYSTEMS)}")
    atoms.calc = EMT()
    return atoms


def cell_edges(atoms: Atoms) -> F64:
    """The edges ``(3,)`` of ``atoms``' orthorhombic cell in Å (zeros without periodic boundaries)."""
    if not atoms.pbc.any():
        return np.zeros(3)
    edges: F64 = atoms.cell.lengths()
    return edges


def _check(name: str, value: int, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InvalidValue(f"saibench_chemistry.simulate.trajectories({name}={value!r})",
                           f"{name} is a whole number >= {least}")


def trajectories(
    system: str, *, temperature_K: float, n_trajectories: int, frames: int, interval: int, equilibration: int,
    seed: int, dt_fs: float = 5.0, friction_per_fs: float = 0.02, displacement: float = 0.05,
    progress: Progress | None = None,
) -> Trajectories:
    """Langevin (NVT) molecular dynamics of ``system`` with EMT, sampled into frames.

    Trajectory ``i`` draws from its own generator (``SeedSequence(seed).spawn``), so it is
    the same whatever ``n_trajectories`` is: initial velocities from the Maxwell-Boltzmann
    distribution at ``temperature_K`` (momentum removed, and rotation for a cluster), a
    Gaussian displacement of every atom, and the thermostat's noise. The first
    ``equilibration`` steps are discarded; then a frame is kept every ``interval`` steps.

    Args:
        system: ``"bulk"`` or ``"cluster"``.
        temperature_K: the thermostat's temperature.
        n_trajectories: independent trajectories.
        frames: frames kept from each.
        interval: steps between kept frames (>= 1; consecutive frames are correlated below
            the ~100 fs of a copper phonon period).
        equilibration: steps discarded before the first frame's interval.
        seed: the seed every trajectory's generator is spawned from.
        dt_fs: the time step in fs.
        friction_per_fs: the Langevin friction in 1/fs (0.02: a 50 fs relaxation time).
        displacement: standard deviation in Å of the initial random displacement.
        progress: called as ``progress(fraction, what)`` after every kept frame.

    Returns:
        The frames, float64.

    Raises:
        InvalidValue: an unknown system, a temperature that is not positive, or a count
            below its least value.
    """
    for name, value, least in (("n_trajectories", n_trajectories, 1), ("frames", frames, 1), ("interval", interval, 1),
                               ("equilibration", equilibration, 0)):
        _check(name, value, least)
    if not np.isfinite(temperature_K) or temperature_K <= 0:
        raise InvalidValue(f"saibench_chemistry.simulate.trajectories(temperature_K={temperature_K!r})",
                           "the temperature is a positive number of kelvin, e.g. temperature_K=600.0")
    template = build(system)
    n = len(template)
    shape = (n_trajectories, frames)
    out: dict[str, Any] = {"positions": np.empty((*shape, n, 3)), "velocities": np.empty((*shape, n, 3)),
                           "energies": np.empty(shape), "forces": np.empty((*shape, n, 3))}
    for t, child in enumerate(np.random.SeedSequence(seed).spawn(n_trajectories)):
        rng = np.random.default_rng(child)
        atoms = template.copy()
        atoms.calc = EMT()
        atoms.positions += rng.normal(0.0, displacement, size=(n, 3))
        # Maxwell-Boltzmann momenta drawn here (ASE's helper changed name in 3.29)
        spread = np.sqrt(atoms.get_masses() * units.kB * temperature_K)
        atoms.set_momenta(rng.standard_normal((n, 3)) * spread[:, None])
        Stationary(atoms)
        if not atoms.pbc.any():
            ZeroRotation(atoms)
        atoms.set_constraint(FixCom())  # the thermostat's noise would move the centre of mass
        dynamics = Langevin(atoms, dt_fs * units.fs, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                            fixcm=False, rng=rng)
        if equilibration:
            dynamics.run(equilibration)
        for f in range(frames):
            dynamics.run(interval)
            out["positions"][t, f] = atoms.get_positions(wrap=True)
            out["velocities"][t, f] = atoms.get_velocities()
            out["energies"][t, f] = atoms.get_potential_energy()
            out["forces"][t, f] = atoms.get_forces(apply_constraint=False)
            if progress is not None:
                progress((t * frames + f + 1) / (n_trajectories * frames), f"{system} trajectory {t + 1}/{n_trajectories}")
    return Trajectories(numbers=template.numbers.astype(np.int64), cell=cell_edges(template),
                        masses=template.get_masses().astype(np.float64), **out)
