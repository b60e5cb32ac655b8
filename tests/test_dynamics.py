# mypy: untyped-calls-exclude=ase
"""The rollout's integrator and experiment (saibench_chemistry.dynamics) against ASE.

``velocity_verlet`` is checked step for step against ASE's ``VelocityVerlet`` driving
ASE's ``MorsePotential`` (``morse_energy`` is its jax.numpy twin), and against the analytic
harmonic oscillator; ``rollout`` is checked with models whose answers are known: the
exact potential (no deviation), ones that collapse or break (unstable), and the same
potential behind the JAX and the Python-loop path (the same observations).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.calculator import Calculator
from ase.calculators.morse import MorsePotential
from ase.cluster import Icosahedron
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from saibench_chemistry.common import FORCES
from saibench_chemistry.dynamics import (
    COPPER_MORSE,
    configurations,
    morse_energy,
    rollout,
    rollout_data,
    velocity_verlet,
)

from sail_types import InvalidValue, TrainedModel

CU_MORSE: dict[str, Any] = dict(COPPER_MORSE)
SHORT_CUTOFF: dict[str, Any] = {"rcut1": 1.0, "rcut2": 1.2}  # 3.44 Å: under half the 2×2×2 fcc cell's 7.22 Å edge, as the minimum image needs
STEPS, RECORD_EVERY, DT_FS = 100, 10, 2.0
ROLLOUT_STEPS = 40  # the rollout's tests: a short run keeps them fast (each also times 40 steps of ASE + EMT)


def thermal_state(atoms: Atoms, temperature_k: float = 300.0, seed: int = 0) -> dict[str, Any]:
    """The arguments of ``rollout_data`` for ``atoms`` with Maxwell-Boltzmann velocities."""
    masses = atoms.get_masses()
    sigma = np.sqrt(units.kB * temperature_k / masses)[:, None]
    velocities = np.random.default_rng(seed).normal(size=(len(atoms), 3)) * sigma
    return {"numbers": atoms.numbers, "cell": np.diag(atoms.cell.array), "masses": masses, "positions": atoms.positions,
            "velocities": velocities - velocities.mean(axis=0)}


def cluster() -> dict[str, Any]:
    """13 atoms, no periodic boundaries."""
    return thermal_state(Icosahedron("Cu", 2))


def fcc_bulk() -> dict[str, Any]:
    """32 atoms in a periodic 7.22 Å cube."""
    return thermal_state(bulk("Cu", "fcc", a=3.61, cubic=True).repeat(2))


def ase_morse(parameters: dict[str, Any]) -> Calculator:
    return MorsePotential(**parameters)


def morse_forces(state: dict[str, Any], parameters: dict[str, Any], dtype: Any) -> Callable[[jax.Array], jax.Array]:
    energy = functools.partial(morse_energy, **parameters)
    return lambda r: FORCES.of(energy)(configurations(state["numbers"], state["cell"], r, dtype=dtype)[None])[0]


@pytest.mark.parametrize(("system", "cutoff"), [(cluster, {}), (fcc_bulk, SHORT_CUTOFF)], ids=["cluster", "periodic"])
def test_velocity_verlet_follows_ase_step_for_step(system: Callable[[], dict[str, Any]], cutoff: dict[str, Any]) -> None:
    state, parameters = system(), {**CU_MORSE, **cutoff}
    reference = rollout_data(**state, steps=STEPS, dt_fs=DT_FS, record_every=RECORD_EVERY, calculator=ase_morse(parameters))
    with jax.enable_x64(True):
        positions, velocities = velocity_verlet(morse_forces(state, parameters, jnp.float64), state["positions"], state["velocities"],
                                                state["masses"], dt=DT_FS * units.fs, steps=STEPS, record_every=RECORD_EVERY)
        assert positions.dtype == jnp.float64
    assert positions.shape == velocities.shape == (STEPS // RECORD_EVERY + 1, len(state["numbers"]), 3)
    moved = np.abs(reference["reference_positions"][-1] - state["positions"]).max()
    assert moved > 0.05  # the atoms did move: the agreement below is not that of two standing still
    np.testing.assert_allclose(positions, reference["reference_positions"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(velocities[0], state["velocities"], rtol=0, atol=0)


def harmonic(k: float, mass: float, x0: float, v0: float, dt: float, periods: float) -> tuple[NDArray[np.float64], ...]:
    """Velocity Verlet and the exact solution of a 3-D harmonic oscillator, at every step."""
    omega = np.sqrt(k / mass)
    steps = int(round(periods * 2 * np.pi / omega / dt))
    start = np.array([[x0, 0.0, -x0]]), np.array([[v0, -v0, 0.0]])
    with jax.enable_x64(True):
        r, v = velocity_verlet(lambda r: -k * r, *start, np.array([mass]), dt=dt, steps=steps, record_every=1)
    t = dt * np.arange(steps + 1)[:, None, None]
    exact = start[0] * np.cos(omega * t) + start[1] / omega * np.sin(omega * t)
    energy = 0.5 * mass * np.sum(np.asarray(v) ** 2, axis=(1, 2)) + 0.5 * k * np.sum(np.asarray(r) ** 2, axis=(1, 2))
    return np.asarray(r), exact, energy


@settings(max_examples=8, deadline=None)
@given(k=st.floats(0.5, 5.0), mass=st.floats(1.0, 60.0), x0=st.floats(0.05, 0.5), v0=st.floats(-0.1, 0.1))
def test_velocity_verlet_is_second_order_on_a_harmonic_oscillator(k: float, mass: float, x0: float, v0: float) -> None:
    dt = 0.05 * np.sqrt(mass / k)  # ω dt = 0.05
    errors = []
    for step in (dt, dt / 2):
        r, exact, energy = harmonic(k, mass, x0, v0, step, periods=2.0)
        energy_error = np.abs(energy - energy[0]).max() / energy[0]
        assert energy_error < (np.sqrt(k / mass) * step) ** 2  # bounded, O(dt²): no secular drift
        errors.append((np.abs(r - exact).max(), energy_error))
    (position_1, energy_1), (position_2, energy_2) = errors
    assert 3.5 < position_1 / position_2 < 4.5  # halving dt quarters the error: second order
    assert 3.5 < energy_1 / energy_2 < 4.5


def test_velocity_verlet_is_one_compiled_program() -> None:
    traces = []

    def counted(r: jax.Array) -> jax.Array:
        traces.append(r.shape)
        return -r

    start = np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)
    for steps in (10, 1000):
        traces.clear()
        jaxpr = jax.make_jaxpr(lambda r, v, s=steps: velocity_verlet(counted, r, v, np.ones(2), dt=0.1, steps=s, record_every=5))(*start)
        assert len(traces) == 2  # the initial forces and the loop's body, whatever the number of steps
        assert "scan" in str(jaxpr)
    jitted = jax.jit(velocity_verlet, static_argnames=("forces", "dt", "steps", "record_every"))
    eager = velocity_verlet(counted, *start, np.ones(2), dt=0.1, steps=20, record_every=5)
    np.testing.assert_allclose(jitted(counted, *start, np.ones(2), dt=0.1, steps=20, record_every=5)[0], eager[0], rtol=1e-6)


@pytest.mark.parametrize(("steps", "record_every"), [(10, 3), (10, 0), (0, 1)])
def test_steps_must_be_a_positive_multiple_of_record_every(steps: int, record_every: int) -> None:
    with pytest.raises(InvalidValue, match="positive multiple of record_every"):
        velocity_verlet(lambda r: -r, np.zeros((1, 3)), np.zeros((1, 3)), np.ones(1), dt=0.1, steps=steps, record_every=record_every)


@functools.cache
def bulk_morse_data() -> dict[str, NDArray[Any]]:
    parameters: dict[str, Any] = {**CU_MORSE, **SHORT_CUTOFF}
    return rollout_data(**fcc_bulk(), steps=ROLLOUT_STEPS, dt_fs=DT_FS, record_every=RECORD_EVERY, calculator=ase_morse(parameters))


def jax_model(energy: Callable[[jax.Array], jax.Array], name: str) -> TrainedModel:
    compiled, forces = jax.jit(energy), jax.jit(FORCES.of(energy))
    return TrainedModel(name, predict=lambda x: np.asarray(compiled(x)), jax=energy,
                        gradients={"forces": lambda x: np.asarray(forces(x))})


EXACT = functools.partial(morse_energy, **CU_MORSE, **SHORT_CUTOFF)
SCALARS = ("energy_drift", "rmsd", "stable_steps", "steps_per_second", "reference_steps_per_second")


def test_rollout_of_the_exact_potential_follows_the_reference() -> None:
    data = bulk_morse_data()
    observed = rollout(jax_model(EXACT, "exact_morse"), data)
    assert all(isinstance(observed[k], float) for k in SCALARS)
    assert observed["rmsd"] < 1e-4  # float32 against ASE's float64
    assert observed["energy_drift"] < 1.0  # meV/atom
    reference_drift = np.abs(data["reference_energies"] - data["reference_energies"][0]).max() / 32 * 1000
    assert observed["energy_drift"] == pytest.approx(reference_drift, abs=0.05)
    assert observed["stable_steps"] == ROLLOUT_STEPS
    assert observed["steps_per_second"] > 0 and observed["reference_steps_per_second"] > 0
    assert observed["rmsd_curve"].shape == observed["energy_curve"].shape == (ROLLOUT_STEPS // RECORD_EVERY + 1,)


def test_python_loop_path_observes_what_the_jax_path_does() -> None:
    data = bulk_morse_data()
    model = jax_model(EXACT, "exact_morse")
    looped = rollout(TrainedModel("morse_as_fitted", predict=model.predict, jax=None, gradients=model.gradients), data)
    compiled = rollout(model, data)
    assert looped["stable_steps"] == compiled["stable_steps"] == ROLLOUT_STEPS
    np.testing.assert_allclose(looped["rmsd_curve"], compiled["rmsd_curve"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(looped["energy_curve"], compiled["energy_curve"], rtol=0, atol=2e-3)
    assert looped["energy_drift"] == pytest.approx(compiled["energy_drift"], abs=0.1)


def collapsing(x: jax.Array) -> jax.Array:
    """A stiff trap pulling every atom to the centroid: conservative, but the atoms meet."""
    positions = x[:, 1:, 1:]
    return 20.0 * jnp.sum((positions - positions.mean(axis=1, keepdims=True)) ** 2, axis=(1, 2))


def broken(x: jax.Array) -> jax.Array:
    """Nonsense: a NaN energy and NaN forces from the first step."""
    return jnp.sum(jnp.sqrt(-1.0 - x[:, 1:, 1:] ** 2), axis=(1, 2))


@pytest.mark.parametrize("path", ["jax", "python"])
def test_unstable_models_are_caught(path: str) -> None:
    data = bulk_morse_data()
    for energy, name in ((collapsing, "collapsing"), (broken, "broken")):
        model = jax_model(energy, name)
        model = model if path == "jax" else TrainedModel(name, predict=model.predict, jax=None, gradients=model.gradients)
        observed = rollout(model, data)
        assert observed["stable_steps"] < ROLLOUT_STEPS, name
        if name == "broken":
            assert observed["stable_steps"] == 0 and observed["energy_drift"] == np.inf and observed["rmsd"] == np.inf
