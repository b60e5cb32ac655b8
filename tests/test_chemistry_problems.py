# mypy: untyped-calls-exclude=ase
"""The chemistry problems (EMT molecular dynamics of copper) and metrics, each against an
independent reference: a fresh ASE EMT evaluation of the stored positions, central finite
differences of EMT's energy, scipy's minimisation of EMT's energy over the lattice constant,
scikit-learn's mean_absolute_error, and loops written differently from the metrics."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from saibench_chemistry import metrics as chem
from saibench_chemistry.common import FORCES, Potential, unpack
from saibench_chemistry.problems import md_bulk, md_cluster
from saibench_chemistry.simulate import EMT_LATTICE_CONSTANT, Trajectories, build, trajectories
from scipy.optimize import minimize_scalar
from sklearn.metrics import mean_absolute_error

from sail_types import Configuration, Evaluation, Fixture, InvalidValue

TINY: dict[str, Any] = {"n_trajectories": 3, "frames": 4, "interval": 5, "equilibration": 10, "seed": 0,
                        "rollout_steps": 20, "rollout_record_every": 10}
PROBLEMS = {"bulk": (md_bulk, 600.0), "cluster": (md_cluster, 400.0)}


@pytest.fixture(scope="module", params=sorted(PROBLEMS))
def system(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def made(system: str) -> tuple[Any, Trajectories]:
    """The problem's dataset at tiny settings, and the simulator's frames at the same settings."""
    problem, temperature = PROBLEMS[system]
    frames = trajectories(system, temperature_K=temperature, **{k: v for k, v in TINY.items() if "rollout" not in k})
    return problem(**TINY), frames


def emt_of(sample: np.ndarray) -> Atoms:
    """ASE atoms, EMT attached, from one Configuration sample (row 0 the cell, zeros: none)."""
    numbers, positions, cell = (part[0] for part in unpack(sample[None]))
    periodic = bool(np.all(cell > 0))
    atoms = Atoms(numbers=numbers, positions=positions.astype(np.float64), cell=np.diag(cell) if periodic else None,
                  pbc=periodic)
    atoms.calc = EMT()
    return atoms


def splits(dataset: Any) -> dict[str, Fixture[Any, Any]]:
    return {"train": dataset.train, "validation": dataset.validation, "test": dataset.test}


def test_fixture_energies_and_forces_are_a_fresh_emt_evaluation(made: tuple[Any, Trajectories]) -> None:
    dataset, _ = made
    for fixture in splits(dataset).values():
        for i in range(len(fixture)):
            atoms = emt_of(fixture.x[i])
            assert fixture.y[i] == pytest.approx(atoms.get_potential_energy(), abs=2e-4)  # float32 positions
            np.testing.assert_allclose(fixture.meta["forces"][i], atoms.get_forces(), atol=2e-4)


def test_forces_are_minus_the_finite_difference_of_the_energy(made: tuple[Any, Trajectories]) -> None:
    _, frames = made
    atoms = build("bulk" if frames.cell.any() else "cluster")
    atoms.positions = frames.positions[1, 2]
    h = 1e-4
    numeric = np.zeros((frames.n_atoms, 3))
    for a in range(frames.n_atoms):
        for c in range(3):
            shifted = []
            for step in (h, -h):
                atoms.positions[a, c] += step
                shifted.append(atoms.get_potential_energy())
                atoms.positions[a, c] -= step
            numeric[a, c] = -(shifted[0] - shifted[1]) / (2 * h)
    np.testing.assert_allclose(frames.forces[1, 2], numeric, atol=1e-5)


def test_splits_are_whole_different_trajectories(made: tuple[Any, Trajectories]) -> None:
    dataset, _ = made
    ids = {name: set(f.meta["trajectory"].tolist()) for name, f in splits(dataset).items()}
    assert ids == {"train": {0}, "validation": {1}, "test": {2}}
    assert [len(f) for f in splits(dataset).values()] == [TINY["frames"]] * 3


def test_fixtures_follow_the_declared_configuration_layout(system: str, made: tuple[Any, Trajectories]) -> None:
    dataset, frames = made
    problem, _ = PROBLEMS[system]
    x_type, _ = typing.get_args(typing.get_type_hints(problem, include_extras=True)["return"])
    n = frames.n_atoms
    assert n == (32 if system == "bulk" else 38)
    assert x_type.__metadata__ == (Configuration(n),)
    cell = np.full(3, 2 * EMT_LATTICE_CONSTANT) if system == "bulk" else np.zeros(3)
    for fixture in splits(dataset).values():
        assert fixture.x.dtype == np.float32 and fixture.y.dtype == np.float32
        assert fixture.x.shape[1:] == Configuration(n).shape({})
        np.testing.assert_allclose(fixture.x[:, 0], np.broadcast_to([0.0, *cell], (len(fixture), 4)), rtol=1e-6)
        assert np.all(fixture.x[:, 1:, 0] == 29)
        assert {k: len(v) for k, v in fixture.meta.items()} == dict.fromkeys(("forces", "atoms", "trajectory"), len(fixture))
        assert fixture.meta["forces"].shape == FORCES.select(fixture.x).shape
        assert np.all(fixture.meta["atoms"] == n)


def test_fixtures_pack_the_simulators_frames_trajectory_by_trajectory(made: tuple[Any, Trajectories]) -> None:
    dataset, frames = made
    for fixture, t in ((dataset.train, 0), (dataset.validation, 1), (dataset.test, 2)):
        np.testing.assert_allclose(fixture.x[:, 1:, 1:], frames.positions[t], atol=1e-5)
        np.testing.assert_allclose(fixture.y, frames.energies[t], rtol=1e-6)


def test_the_rollout_starts_from_the_test_trajectorys_last_frame(made: tuple[Any, Trajectories]) -> None:
    dataset, frames = made
    data = dataset.experiments["rollout"].data
    np.testing.assert_array_equal(data["positions"], frames.positions[-1, -1])
    np.testing.assert_array_equal(data["velocities"], frames.velocities[-1, -1])
    np.testing.assert_array_equal(data["cell"], frames.cell)
    assert int(data["steps"]) == TINY["rollout_steps"]


def test_same_seed_same_data_other_seed_other_data(system: str, made: tuple[Any, Trajectories]) -> None:
    problem, _ = PROBLEMS[system]
    dataset, _ = made
    again, other = problem(**TINY), problem(**{**TINY, "seed": 1})
    assert again.checksum == dataset.checksum != other.checksum
    np.testing.assert_array_equal(again.test.x, dataset.test.x)
    assert not np.allclose(other.test.x, dataset.test.x)


def test_a_trajectory_does_not_depend_on_how_many_are_simulated() -> None:
    settings: dict[str, Any] = {"temperature_K": 300.0, "frames": 2, "interval": 3, "equilibration": 2, "seed": 5}
    two, one = trajectories("cluster", n_trajectories=2, **settings), trajectories("cluster", n_trajectories=1, **settings)
    np.testing.assert_array_equal(two.positions[:1], one.positions)
    assert not np.allclose(two.positions[0], two.positions[1])


def test_the_thermostat_holds_the_temperature(made: tuple[Any, Trajectories]) -> None:
    _, frames = made
    kinetic = 0.5 * np.einsum("i,tfij->tf", frames.masses, frames.velocities**2)
    temperature = np.mean(kinetic) / (1.5 * frames.n_atoms * units.kB)
    target = 600.0 if frames.cell.any() else 400.0
    assert 0.5 * target < temperature < 1.5 * target  # a few seeded frames: a sanity bound, not a statistic


def test_the_lattice_constant_minimises_emts_energy() -> None:
    def energy_per_atom(a: float) -> float:
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.calc = EMT()
        return float(atoms.get_potential_energy()) / len(atoms)

    best = minimize_scalar(energy_per_atom, bounds=(3.4, 3.8), method="bounded", options={"xatol": 1e-6})
    assert EMT_LATTICE_CONSTANT == pytest.approx(best.x, abs=1e-4)


def test_progress_is_reported_up_to_completion() -> None:
    seen: list[tuple[float, str]] = []
    md_cluster(**{**TINY, "frames": 2}, progress=lambda fraction, what: seen.append((fraction, what)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(0 < f <= 1 for f in fractions)
    assert len(seen) == TINY["n_trajectories"] * 2 + 1


@pytest.mark.parametrize("bad", [2, 0])
def test_too_few_trajectories_is_refused_with_the_fix(bad: int) -> None:
    with pytest.raises(InvalidValue, match="at least 3"):
        md_bulk(**{**TINY, "n_trajectories": bad})


def test_an_unknown_system_or_a_temperature_below_zero_is_refused() -> None:
    with pytest.raises(InvalidValue, match="bulk, cluster"):
        build("liquid")
    with pytest.raises(InvalidValue, match="positive number of kelvin"):
        md_cluster(**TINY, temperature=-5.0)


# metrics


RNG = np.random.default_rng(0)


def evaluation(y_true: Any, y_pred: Any, **context: Any) -> Evaluation:
    return Evaluation(np.asarray(y_true), np.asarray(y_pred), np.asarray(y_pred), 1.0, 0.1, 0.01, 10, len(y_true), 1,
                      **context)


def test_energy_mae_is_per_atom_in_mev() -> None:
    atoms = RNG.integers(30, 40, size=50)
    y, p = RNG.normal(size=50) * atoms, RNG.normal(size=50) * atoms
    ev = evaluation(y, p, meta={"atoms": atoms})
    assert chem.energy_mae(ev) == pytest.approx(1000 * mean_absolute_error(y / atoms, p / atoms))
    assert np.isnan(chem.energy_mae(evaluation(y, p)))


def test_force_mae_is_over_every_component_in_mev_per_angstrom() -> None:
    true, predicted = RNG.normal(size=(20, 32, 3)), RNG.normal(size=(20, 32, 3))
    ev = evaluation(np.zeros(20), np.zeros(20), meta={"forces": true}, gradients={"forces": predicted})
    loop = sum(abs(t - p) for t, p in zip(true.ravel(), predicted.ravel())) / true.size
    assert chem.force_mae(ev) == pytest.approx(1000 * loop)
    assert chem.force_mae(ev) == pytest.approx(1000 * mean_absolute_error(true.reshape(20, -1), predicted.reshape(20, -1)))
    assert np.isnan(chem.force_mae(evaluation(np.zeros(20), np.zeros(20), meta={"forces": true})))
    assert np.isnan(chem.force_mae(evaluation(np.zeros(20), np.zeros(20), gradients={"forces": predicted})))


def test_rollout_metrics_read_the_rollouts_observations() -> None:
    observed = {"energy_drift": 1.5, "rmsd": np.asarray(0.25), "stable_steps": 180, "steps_per_second": 600.0,
                "reference_steps_per_second": 200.0}
    ev = evaluation(np.zeros(3), np.zeros(3), observations={"rollout": observed})
    assert chem.rollout_energy_drift(ev) == 1.5
    assert chem.rollout_rmsd(ev) == 0.25
    assert chem.rollout_stable_steps(ev) == 180.0
    assert chem.rollout_steps_per_second(ev) == 600.0
    assert chem.rollout_speedup(ev) == pytest.approx(3.0)
    bare = evaluation(np.zeros(3), np.zeros(3))  # the validation fixture's evaluation, or a failed experiment
    rollout_metrics = (chem.rollout_energy_drift, chem.rollout_rmsd, chem.rollout_stable_steps,
                       chem.rollout_steps_per_second, chem.rollout_speedup)
    assert all(np.isnan(m(bare)) for m in rollout_metrics)
    no_reference = evaluation(np.zeros(3), np.zeros(3), observations={"rollout": {"steps_per_second": 600.0}})
    assert np.isnan(chem.rollout_speedup(no_reference))


def test_chemistry_metrics_attach_to_potential_problems_only() -> None:
    for m in (chem.energy_mae, chem.force_mae, chem.rollout_energy_drift, chem.rollout_rmsd, chem.rollout_stable_steps,
              chem.rollout_steps_per_second, chem.rollout_speedup):
        assert m.__sail__.tasks == (Potential,)  # type: ignore[attr-defined]
