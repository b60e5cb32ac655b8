# mypy: untyped-calls-exclude=ase
"""Molecular dynamics with a trained potential: the ``rollout`` experiment.

A model that predicts energies well can still be useless for simulation: its forces may
not conserve energy, or let atoms collapse onto each other after a few hundred steps.
The rollout runs NVE molecular dynamics with the model's forces from a state of the
reference trajectory and compares the two:

- ``velocity_verlet`` integrates in ``jax.numpy`` as one compiled program (a ``lax.scan``
  over recorded blocks of steps), so a JAX model's rollout runs without a Python call per
  step;
- ``rollout_data`` computes the reference trajectory once, with ASE's ``VelocityVerlet``
  and ``EMT`` (the problem's data);
- ``rollout`` is the experiment: the model's trajectory, its energy conservation, its
  distance from the reference, how long it stays physical and how fast it runs.

Units are ASE's throughout: Å, eV, amu and ASE's time unit (``ase.units.fs`` of them make
a femtosecond), so velocities are in Å per ASE time unit and ``F/m`` needs no factor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator
from ase.calculators.emt import EMT
from ase.md.verlet import VelocityVerlet
from numpy.typing import ArrayLike, NDArray

from sail_types import InvalidValue, TrainedModel

from .common import FORCES, pack
from .descriptors import pair_distances

Forces = Callable[[Any], Any]
"""``forces(positions (n, 3)) -> (n, 3)`` in eV/Å."""

UNSTABLE_DRIFT = 0.1  # eV/atom: a total energy this far from its start means a broken rollout
CLOSEST_APPROACH = 1.5  # Å: copper atoms never come this close at MD temperatures (nearest neighbours: 2.55 Å)
REFERENCE_TIMING_STEPS = 50  # steps of ASE + EMT timed beside each rollout
COPPER_MORSE = {"epsilon": 0.3429, "rho0": 1.3588 * 2.866, "r0": 2.866}
"""``morse_energy``'s parameters for copper (Girifalco & Weizer, Phys. Rev. 114, 687, 1959):
a well of 0.3429 eV at 2.866 Å, α = 1.3588 Å⁻¹ (``rho0 = α r₀``)."""


def velocity_verlet(forces: Forces, positions: ArrayLike, velocities: ArrayLike, masses: ArrayLike, *,
                    dt: float, steps: int, record_every: int) -> tuple[jax.Array, jax.Array]:
    """NVE velocity-Verlet dynamics (Swope et al., 1982), step by step as ASE's ``VelocityVerlet``.

    One ``lax.scan`` over the recorded blocks, an inner ``lax.scan`` over a block's steps,
    compiled with ``jax.jit`` as one program: ``forces`` is traced once for the loop,
    whatever ``steps`` is. Under an outer ``jax.jit`` (``steps``, ``record_every`` static)
    it is part of that program.

    Args:
        forces: ``positions (n, 3) -> forces (n, 3)`` in eV/Å, written with ``jax.numpy``.
        positions: ``(n, 3)`` in Å; velocities: ``(n, 3)`` in Å per ASE time unit;
            masses: ``(n,)`` in amu.
        dt: the time step in ASE time units (``1.0 * ase.units.fs`` for a femtosecond).
        steps: steps to integrate, a multiple of ``record_every``.
        record_every: steps between two records.

    Returns:
        ``(positions, velocities)``, each ``(steps // record_every + 1, n, 3)``: the start,
        then the state every ``record_every`` steps, in the dtype of ``positions``.
        Positions are not wrapped into the cell.
    """
    blocks = _blocks("velocity_verlet", steps, record_every)
    start = jnp.asarray(positions)
    dtype = start.dtype

    def typed_forces(r: jax.Array) -> jax.Array:
        return jnp.asarray(forces(r), dtype=dtype)  # the carry keeps one dtype, whatever the model computes in

    def integrate(r: jax.Array, v: jax.Array, inverse_mass: jax.Array) -> tuple[jax.Array, jax.Array]:
        def block(state: State, _: None) -> tuple[State, tuple[jax.Array, jax.Array]]:
            state, _ = jax.lax.scan(lambda s, __: (verlet_step(typed_forces, s, dt, inverse_mass), None), state, length=record_every)
            return state, state[:2]

        _, (recorded_r, recorded_v) = jax.lax.scan(block, (r, v, typed_forces(r)), length=blocks)
        return jnp.concatenate([r[None], recorded_r]), jnp.concatenate([v[None], recorded_v])

    # jit even when called eagerly: op-by-op dispatch of the first force evaluation alone costs seconds
    recorded: tuple[jax.Array, jax.Array] = jax.jit(integrate)(start, jnp.asarray(velocities, dtype=dtype),
                                                               1.0 / jnp.asarray(masses, dtype=dtype)[:, None])
    return recorded


State = tuple[Any, Any, Any]
"""``(positions, velocities, forces)`` as NumPy or JAX arrays."""


def verlet_step(forces: Forces, state: State, dt: float, inverse_mass: Any) -> State:
    """One velocity-Verlet step, NumPy or JAX alike: half kick, drift, new forces, half kick
    (``ase.md.verlet.VelocityVerlet.step``)."""
    positions, velocities, force = state
    velocities = velocities + 0.5 * dt * force * inverse_mass
    positions = positions + dt * velocities
    force = forces(positions)
    return positions, velocities + 0.5 * dt * force * inverse_mass, force


def rollout_data(numbers: ArrayLike, cell: ArrayLike, masses: ArrayLike, positions: ArrayLike, velocities: ArrayLike, *,
                 steps: int, dt_fs: float, record_every: int, calculator: Calculator | None = None) -> dict[str, NDArray[Any]]:
    """The rollout experiment's data: a start and the reference NVE trajectory from it.

    Args:
        numbers: ``(n,)`` atomic numbers; cell: ``(3,)`` orthorhombic edges in Å, zeros
            for no periodic boundary along that axis; masses: ``(n,)`` amu.
        positions: ``(n, 3)`` Å; velocities: ``(n, 3)`` Å per ASE time unit
            (``Atoms.get_velocities()``).
        steps, record_every: steps to integrate and steps between records.
        dt_fs: the time step in femtoseconds.
        calculator: the reference potential (``EMT()`` when None).

    Returns:
        The start (``numbers``, ``cell``, ``masses``, ``positions``, ``velocities``), ``dt``
        (ASE time units), ``steps``, ``record_every`` (0-d arrays), and the reference's
        ``reference_positions`` ``(S + 1, n, 3)`` (unwrapped) and total energies
        ``reference_energies`` ``(S + 1,)`` (eV), ``S = steps // record_every``.
    """
    blocks = _blocks("rollout_data", steps, record_every)
    data = {"numbers": np.asarray(numbers, dtype=np.int64), "cell": np.asarray(cell, dtype=np.float64),
            "masses": np.asarray(masses, dtype=np.float64), "positions": np.asarray(positions, dtype=np.float64),
            "velocities": np.asarray(velocities, dtype=np.float64), "dt": np.asarray(dt_fs * units.fs, dtype=np.float64),
            "steps": np.asarray(steps, dtype=np.int64), "record_every": np.asarray(record_every, dtype=np.int64)}
    system = System.of(data)
    atoms = system.atoms(EMT() if calculator is None else calculator)
    dynamics = VelocityVerlet(atoms, timestep=system.dt)
    trajectory, energies = [atoms.get_positions()], [atoms.get_total_energy()]
    for _ in range(blocks):
        dynamics.run(record_every)
        trajectory.append(atoms.get_positions())
        energies.append(atoms.get_total_energy())
    return {**data, "reference_positions": np.stack(trajectory), "reference_energies": np.asarray(energies, dtype=np.float64)}


class System(NamedTuple):
    """The rollout's start, read from its data (``rollout_data``)."""

    numbers: NDArray[np.int64]
    cell: NDArray[np.float64]
    masses: NDArray[np.float64]
    positions: NDArray[np.float64]
    velocities: NDArray[np.float64]
    dt: float
    steps: int
    record_every: int

    @classmethod
    def of(cls, data: Mapping[str, NDArray[Any]]) -> System:
        """The start in ``data``, typed."""
        def floats(name: str) -> NDArray[np.float64]:
            return np.asarray(data[name], dtype=np.float64)

        return cls(np.asarray(data["numbers"], dtype=np.int64), floats("cell"), floats("masses"), floats("positions"),
                   floats("velocities"), float(data["dt"]), int(data["steps"]), int(data["record_every"]))

    def atoms(self, calculator: Calculator) -> Atoms:
        """The start as ASE atoms with ``calculator``; periodic along the axes with a cell edge."""
        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=np.diag(self.cell), pbc=self.cell > 0)
        atoms.set_masses(self.masses)
        atoms.set_velocities(self.velocities)
        atoms.calc = calculator
        return atoms


def _blocks(who: str, steps: int, record_every: int) -> int:
    if record_every < 1 or steps < record_every or steps % record_every:
        raise InvalidValue(f"{who}(steps={steps}, record_every={record_every})",
                           "steps is a positive multiple of record_every, the steps between two records: steps=1000, record_every=10")
    return steps // record_every


def rollout(model: TrainedModel, data: Mapping[str, NDArray[Any]]) -> dict[str, Any]:
    """The experiment: NVE dynamics with the model's forces from the reference's start.

    A model written in JAX (``model.jax``) is integrated by ``velocity_verlet`` in one
    compiled program, its forces ``FORCES.of(model.jax)``; any other (a simulator wrapped as
    a ``Fitted`` method) step by step in Python with ``model.gradient("forces", x)``.

    Returns:
        ``energy_drift``: meV/atom, the largest ``|E(t) - E(0)|`` of the model's own total
        energy (its potential plus kinetic) over the records, inf if it became non-finite;
        ``rmsd``: Å, between the model's and the reference's positions at the last record
        (inf if non-finite);
        ``stable_steps``: steps up to the last record before the first unstable one (a
        non-finite value, a drift above 100 meV/atom or two atoms closer than 1.5 Å), or
        ``steps`` if none is; ``steps_per_second`` of the model's rollout (a compiled program
        timed on its second execution) and ``reference_steps_per_second`` of ASE's
        ``VelocityVerlet`` with ``EMT`` on the same system, timed now on the same machine;
        the curves ``rmsd_curve`` and ``energy_curve`` (total energy, eV) per record.
    """
    system = System.of(data)
    recorded = _python_rollout(model, system) if model.jax is None else _jax_rollout(model.jax, system)
    positions, velocities, potential, rate = recorded
    with np.errstate(all="ignore"):  # a broken model's rollout overflows: that is what is measured
        total = potential + 0.5 * np.sum(system.masses[:, None] * velocities**2, axis=(1, 2))
        drift = np.abs(total - total[0]) / len(system.numbers)
        drift = np.where(np.isfinite(drift), drift, np.inf)
        rmsd = np.sqrt(np.mean(np.sum((positions - data["reference_positions"]) ** 2, axis=-1), axis=-1))
        rmsd = np.where(np.isfinite(rmsd), rmsd, np.inf)
        unstable = (drift > UNSTABLE_DRIFT) | ~(closest_distances(positions, system.cell) >= CLOSEST_APPROACH)
    first_unstable = int(np.argmax(unstable)) if unstable.any() else None
    stable = system.steps if first_unstable is None else max(first_unstable - 1, 0) * system.record_every
    return {"energy_drift": float(1000 * drift.max()), "rmsd": float(rmsd[-1]), "stable_steps": float(stable),
            "steps_per_second": rate, "reference_steps_per_second": reference_rate(system, min(system.steps, REFERENCE_TIMING_STEPS)),
            "rmsd_curve": rmsd, "energy_curve": total}


Rollout = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]
"""Recorded positions and velocities ``(S + 1, n, 3)``, the model's potential energies
``(S + 1,)`` at the records, and the rollout's steps per second."""


def _jax_rollout(energy: Callable[[Any], Any], system: System) -> Rollout:
    model_forces = FORCES.of(energy)

    def samples(r: jax.Array) -> jax.Array:
        return configurations(system.numbers, system.cell, r)  # float32, as the model takes them

    def trajectory(r: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return velocity_verlet(lambda x: model_forces(samples(x)[None])[0], r, v, system.masses,
                               dt=system.dt, steps=system.steps, record_every=system.record_every)

    start = (jnp.asarray(system.positions), jnp.asarray(system.velocities))
    compiled = jax.jit(trajectory).lower(*start).compile()
    # the first execution may still pay for allocations: time the second
    jax.block_until_ready(compiled(*start))  # type: ignore[no-untyped-call]
    clock = time.perf_counter()
    positions, velocities = jax.block_until_ready(compiled(*start))  # type: ignore[no-untyped-call]
    rate = system.steps / (time.perf_counter() - clock)
    potential = jax.jit(lambda r: energy(samples(r)))(positions)
    return _float64(positions), _float64(velocities), _float64(potential), rate


def _python_rollout(model: TrainedModel, system: System) -> Rollout:
    def forces(r: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(model.gradient(FORCES.name, pack(system.numbers, r[None], system.cell))[0], dtype=np.float64)

    inverse_mass = 1.0 / system.masses[:, None]
    state = (system.positions, system.velocities, forces(system.positions))
    records = [state[:2]]
    clock = time.perf_counter()
    with np.errstate(all="ignore"):  # a broken model's rollout overflows: that is what is measured
        for _ in range(system.steps // system.record_every):
            for _ in range(system.record_every):
                state = verlet_step(forces, state, system.dt, inverse_mass)
            records.append(state[:2])
    rate = system.steps / (time.perf_counter() - clock)
    positions, velocities = (np.stack(r) for r in zip(*records))
    potential = model(pack(system.numbers, positions, system.cell))
    return positions, velocities, _float64(potential), rate


def _float64(x: Any) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def reference_rate(system: System, steps: int) -> float:
    """Steps per second of ASE's ``VelocityVerlet`` with ``EMT`` from ``system``'s start
    (its first force evaluation, which builds the neighbour list, not timed)."""
    atoms = system.atoms(EMT())
    dynamics = VelocityVerlet(atoms, timestep=system.dt)
    atoms.get_forces()
    clock = time.perf_counter()
    dynamics.run(steps)
    return steps / (time.perf_counter() - clock)


def configurations(numbers: ArrayLike, cell: ArrayLike, positions: ArrayLike, dtype: Any = jnp.float32) -> jax.Array:
    """``common.pack`` in ``jax.numpy`` (traceable): samples ``(..., n + 1, 4)`` from atomic
    numbers ``(n,)``, the cell's edges ``(3,)`` and positions ``(..., n, 3)``."""
    r = jnp.asarray(positions, dtype=dtype)
    head = jnp.broadcast_to(jnp.concatenate([jnp.zeros(1, dtype), jnp.asarray(cell, dtype=dtype)]), (*r.shape[:-2], 1, 4))
    species = jnp.broadcast_to(jnp.asarray(numbers, dtype=dtype)[:, None], (*r.shape[:-1], 1))
    return jnp.concatenate([head, jnp.concatenate([species, r], axis=-1)], axis=-2)


def closest_distances(positions: ArrayLike, cell: ArrayLike) -> NDArray[np.float64]:
    """The shortest interatomic distance (Å, nearest image) of each frame ``(F, n, 3)``."""
    r = jnp.asarray(positions)
    pairs = pair_distances(configurations(jnp.zeros(r.shape[-2]), cell, r, dtype=r.dtype))
    return _float64(jnp.min(jnp.where(pairs.others > 0, pairs.distances, jnp.inf), axis=(-2, -1)))


def morse_energy(x: jax.Array, *, epsilon: float, rho0: float, r0: float, rcut1: float = 1.9, rcut2: float = 2.7) -> jax.Array:
    """ASE's ``MorsePotential`` in ``jax.numpy``, of configurations ``(B, n + 1, 4) -> (B,)``:
    ``Σ_{i<j} ε e^{ρ₀(1-r/r₀)}(e^{ρ₀(1-r/r₀)} - 2)`` times ASE's smooth quintic cutoff from
    ``rcut1 · r₀`` to ``rcut2 · r₀``, nearest images only (so a periodic cell's edges exceed
    ``2 · rcut2 · r₀``). The reference the integrator is checked against, and a potential
    whose rollout costs little."""
    pairs = pair_distances(x)
    expf = jnp.exp(rho0 * (1.0 - pairs.distances / r0))
    s = jnp.clip(1.0 - (pairs.distances - rcut1 * r0) / ((rcut2 - rcut1) * r0), 0.0, 1.0)
    cutoff = s**3 * (6.0 * s**2 - 15.0 * s + 10.0)
    return 0.5 * jnp.sum(pairs.others * epsilon * expf * (expf - 2.0) * cutoff, axis=(-2, -1))
