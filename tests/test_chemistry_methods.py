"""The chemistry plugin's methods against independent references: the symmetry functions
against plain loops over ASE's neighbour list, their invariances (hypothesis) and their
gradients against central differences; the pair sums against NumPy loops; the Morse
potential against ASE's ``MorsePotential`` (same energies, parameters recovered by the
fit); EMT's predictor against ASE's EMT; and Deep Sets over symmetry functions planned
for a problem of configurations. Data: fcc Cu (32 atoms, periodic) and a 38-atom Cu
octahedron (a cluster), displaced at random, from ASE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.morse import MorsePotential
from ase.cluster import Octahedron
from ase.neighborlist import neighbor_list
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from saibench_chemistry import descriptors
from saibench_chemistry.classical import SMOOTHING_START, EmtPredictor, MorsePredictor, emt, morse
from saibench_chemistry.common import FORCES, Potential, pack
from saibench_chemistry.descriptors import (
    ANGULAR,
    ANGULAR_ETA,
    CUTOFF,
    DESCRIPTORS,
    RADIAL_CENTRES,
    RADIAL_ETA,
    CellTooSmall,
    cosine_cutoff,
    describe_atoms,
    symmetry_functions,
)
from saibench_chemistry.models import pair_energy, pair_potential
from scipy.spatial.transform import Rotation

import sail_types
from saibench_core.discovery import Catalog, describe
from saibench_core.planner import Planner
from sail_types import Configuration, Dataset, Fitted, Input, JaxModel, Scalar, Train, problem

Floats = NDArray[np.float64]
SEEDS = st.integers(0, 2**32 - 1)
Frames = tuple[Atoms, NDArray[np.float32]]


def _frames(template: Atoms, count: int, sigma: float, seed: int) -> list[Atoms]:
    """``count`` copies of ``template``, each atom displaced by a Gaussian of ``sigma`` Å."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        atoms = template.copy()
        atoms.positions = atoms.positions + rng.normal(0.0, sigma, atoms.positions.shape)
        frames.append(atoms)
    return frames


def _packed(frames: list[Atoms]) -> NDArray[np.float32]:
    cell = frames[0].cell.lengths() if frames[0].pbc.all() else np.zeros(3)
    return pack(frames[0].numbers, np.array([a.positions for a in frames]), cell)


@pytest.fixture(scope="module")
def bulk_frames() -> list[Atoms]:
    """fcc Cu, a = 3.59 Å, 2×2×2 conventional cells (32 atoms, 7.18 Å periodic)."""
    return _frames(bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2), 4, 0.1, seed=1)


@pytest.fixture(scope="module")
def cluster_frames() -> list[Atoms]:
    """A 38-atom truncated Cu octahedron, no periodic boundaries."""
    return _frames(Octahedron("Cu", 4, cutoff=1), 3, 0.05, seed=2)


def _fc(r: Any) -> Any:
    """Behler's cosine cutoff, in NumPy."""
    return np.where(r < CUTOFF, 0.5 * (np.cos(np.pi * r / CUTOFF) + 1.0), 0.0)


def reference_descriptors(atoms: Atoms) -> Floats:
    """Behler's G2 and G4 by explicit loops over each atom's neighbours (ASE's neighbour
    list, every periodic image), in float64."""
    first, second, distance, vector = neighbor_list("ijdD", atoms, CUTOFF)
    out = np.zeros((len(atoms), DESCRIPTORS))
    for i in range(len(atoms)):
        mine = first == i
        d, v = distance[mine], vector[mine]
        for r in d:
            for s, centre in enumerate(RADIAL_CENTRES):
                out[i, s] += np.exp(-RADIAL_ETA * (r - centre) ** 2) * _fc(r)
        for a in range(len(d)):
            for b in range(len(d)):
                r_jk = np.linalg.norm(v[b] - v[a])
                if a == b or r_jk >= CUTOFF:
                    continue
                cos = v[a] @ v[b] / (d[a] * d[b])
                radial = np.exp(-ANGULAR_ETA * (d[a] ** 2 + d[b] ** 2 + r_jk**2)) * _fc(d[a]) * _fc(d[b]) * _fc(r_jk)
                for t, (zeta, lam) in enumerate(ANGULAR):
                    out[i, len(RADIAL_CENTRES) + t] += 2.0 ** (1 - zeta) * (1 + lam * cos) ** zeta * radial
    return out


# -- symmetry functions ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_symmetry_functions_match_neighbour_loops(which: str, request: pytest.FixtureRequest) -> None:
    frames: list[Atoms] = request.getfixturevalue(which)
    found = symmetry_functions(_packed(frames))
    assert isinstance(found, np.ndarray) and found.dtype == np.float32
    assert found.shape == (len(frames), len(frames[0]), DESCRIPTORS)
    expected = np.array([reference_descriptors(a) for a in frames])
    np.testing.assert_allclose(found, expected, rtol=2e-4, atol=2e-6)
    assert np.all(expected[..., :len(RADIAL_CENTRES)].sum(-1) > 0.1)  # every atom has neighbours: a real test


def _describe_one(x: NDArray[Any]) -> Floats:
    """One configuration's descriptors ``(n, 16)``, jit-compiled once per shape."""
    found: Floats = np.asarray(_jitted_describe(jnp.asarray(x[None])), np.float64)[0]
    return found


_jitted_describe = jax.jit(describe_atoms)


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_symmetry_functions_are_invariant_on_clusters(seed: int) -> None:
    atoms = _frames(Octahedron("Cu", 4, cutoff=1), 1, 0.05, seed=7)[0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(atoms))
    rotation = Rotation.random(random_state=seed).as_matrix()
    moved = atoms.positions[order] @ rotation.T + rng.uniform(-20.0, 20.0, 3)
    before = _describe_one(_packed([atoms])[0])
    after = _describe_one(pack(atoms.numbers, moved[None], np.zeros(3))[0])
    np.testing.assert_allclose(after, before[order], rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(SEEDS)
def test_symmetry_functions_are_invariant_under_periodic_translation(seed: int) -> None:
    atoms = _frames(bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2), 1, 0.1, seed=8)[0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(atoms))
    edges = atoms.cell.lengths()
    moved = np.mod(atoms.positions[order] + rng.uniform(-10.0, 10.0, 3), edges)  # wrapped back into the cell
    before = _describe_one(_packed([atoms])[0])
    after = _describe_one(pack(atoms.numbers, moved[None], edges)[0])
    np.testing.assert_allclose(after, before[order], rtol=1e-4, atol=1e-5)


def _check_gradient(fn: Callable[[Any], Any], x: NDArray[Any], seed: int) -> None:
    """``jax.grad(fn)`` at ``x`` against central differences, in float64, at a few positions
    of every sample."""
    rng = np.random.default_rng(seed)
    n = x.shape[1] - 1
    entries = [(sample, int(rng.integers(1, n + 1)), int(rng.integers(1, 4))) for sample in range(len(x)) for _ in range(4)]
    step = 1e-5
    with jax.enable_x64(True):
        value_and_grad = jax.jit(jax.value_and_grad(fn))  # one compilation for both
        x64 = np.asarray(x, np.float64)
        gradient = np.asarray(value_and_grad(x64)[1])
        assert np.all(np.isfinite(gradient))
        expected = []
        for entry in entries:
            up, down = x64.copy(), x64.copy()
            up[entry] += step
            down[entry] -= step
            expected.append((float(value_and_grad(up)[0]) - float(value_and_grad(down)[0])) / (2 * step))
    np.testing.assert_allclose([gradient[entry] for entry in entries], expected, rtol=1e-5, atol=1e-7)


def _weighted_descriptors(weights: Floats) -> Callable[[Any], Any]:
    return lambda x: jnp.sum(describe_atoms(x) * weights)


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_symmetry_function_gradients_match_central_differences(which: str, request: pytest.FixtureRequest) -> None:
    frames: list[Atoms] = request.getfixturevalue(which)
    x = _packed(frames[:1])
    weights = np.random.default_rng(3).uniform(0.5, 1.5, (1, x.shape[1] - 1, DESCRIPTORS))
    _check_gradient(_weighted_descriptors(weights), x, seed=4)


def test_gradients_stay_finite_with_atoms_exactly_at_the_cutoff() -> None:
    height = CUTOFF * np.sqrt(3.0) / 2
    triangle = [[0.0, 0.0, 0.0], [CUTOFF, 0.0, 0.0], [CUTOFF / 2, height, 0.0], [CUTOFF / 2, 1.0, 1.0]]
    # in a cell of exactly 2 rc, an atom rc away along x is rc away both ways: the minimum image's tie
    tie = [[0.0, 0.0, 0.0], [CUTOFF, 0.0, 0.0], [1.0, 1.0, 1.0], [5.0, 4.0, 1.5]]
    x = np.concatenate([pack(np.full(4, 29), np.array([triangle]), np.zeros(3)),
                        pack(np.full(4, 29), np.array([tie]), np.full(3, 2 * CUTOFF))])
    _check_gradient(_weighted_descriptors(np.ones((1, 4, DESCRIPTORS))), x, seed=5)


def test_small_periodic_cells_are_refused_with_the_fix() -> None:
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True)  # 3.59 Å: the minimum image misses neighbours within 3.5 Å
    x = _packed([atoms])
    with pytest.raises(CellTooSmall, match=r"3\.590 Å.*shorter than twice the cutoff.*repeat"):
        symmetry_functions(x)
    with pytest.raises(CellTooSmall, match="model morse"):
        MorsePredictor(0.3, 1.4, 2.6, 0.0)(x)


def test_symmetry_functions_trace_in_the_input_dtype(bulk_frames: list[Atoms]) -> None:
    x = _packed(bulk_frames)
    with jax.enable_x64(True):
        traced = jax.jit(symmetry_functions)(jnp.asarray(x, jnp.float64))
    assert traced.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(traced), symmetry_functions(x), rtol=2e-4, atol=2e-6)


def test_symmetry_functions_chunk_any_batch(bulk_frames: list[Atoms], monkeypatch: pytest.MonkeyPatch) -> None:
    x = _packed(bulk_frames[:3])
    whole = symmetry_functions(x)
    monkeypatch.setattr(descriptors, "ROWS_PER_CHUNK", 2)  # chunks of 2, the last one padded
    np.testing.assert_allclose(symmetry_functions(x), whole, rtol=1e-6, atol=1e-7)
    assert symmetry_functions(x[:0]).shape == (0, x.shape[1] - 1, DESCRIPTORS)


# -- pair potentials ---------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_pair_energy_matches_a_neighbour_list_sum(which: str, request: pytest.FixtureRequest) -> None:
    frames: list[Atoms] = request.getfixturevalue(which)
    found = np.asarray(jax.jit(lambda x: pair_energy(lambda r: jnp.exp(-r) * (r - 2.0) * cosine_cutoff(r), x))(_packed(frames)))
    expected = []
    for atoms in frames:
        d = neighbor_list("d", atoms, CUTOFF)
        expected.append(0.5 * np.sum(np.exp(-d) * (d - 2.0) * _fc(d)))
    np.testing.assert_allclose(found, expected, rtol=1e-5)


def _pair_model(width: int = 8) -> tuple[JaxModel, Any]:
    layer = pair_potential(Input(Configuration("n"), {"n": 32}), width=width)
    assert isinstance(layer, JaxModel)
    return layer, layer.init_fn(jax.random.key(0), (33, 4))


def test_pair_potential_is_invariant(bulk_frames: list[Atoms], cluster_frames: list[Atoms]) -> None:
    layer, params = _pair_model()
    apply = jax.jit(layer.apply_fn)
    rng = np.random.default_rng(6)
    for frames in (bulk_frames, cluster_frames):
        x = _packed(frames)
        energies = np.asarray(apply(params, x))
        assert energies.shape == (len(frames),) and np.all(np.isfinite(energies))
        order = 1 + rng.permutation(x.shape[1] - 1)
        moved = x[:, np.r_[0, order]].copy()
        moved[:, 1:, 1:] += rng.uniform(-5.0, 5.0, 3)
        if np.any(x[0, 0, 1:] > 0):
            moved[:, 1:, 1:] = np.mod(moved[:, 1:, 1:], x[0, 0, 1:])
        else:
            moved[:, 1:, 1:] = moved[:, 1:, 1:] @ Rotation.random(random_state=6).as_matrix().T
        np.testing.assert_allclose(np.asarray(apply(params, moved)), energies, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_pair_potential_forces_match_central_differences(which: str, request: pytest.FixtureRequest) -> None:
    layer, params = _pair_model()
    frames: list[Atoms] = request.getfixturevalue(which)
    with jax.enable_x64(True):
        params64 = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), params)
        _check_gradient(lambda x: jnp.sum(layer.apply_fn(params64, x)), _packed(frames[:1]), seed=7)


# -- Morse -------------------------------------------------------------------------------

KNOWN = (0.4, 1.5, 2.6)  # D (eV), α (1/Å), r0 (Å) of the reference Morse potential


def _ase_morse(depth: float, alpha: float, r0: float) -> MorsePotential:
    """ASE's Morse potential with the same smooth cutoff, from SMOOTHING_START to CUTOFF."""
    return MorsePotential(epsilon=depth, r0=r0, rho0=alpha * r0, rcut1=SMOOTHING_START / r0, rcut2=CUTOFF / r0)


def _labelled(frames: list[Atoms], calculator: Callable[[], Any]) -> tuple[NDArray[np.float32], Floats, Floats]:
    energies, forces = [], []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = calculator()
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
    return _packed(frames), np.array(energies), np.array(forces)


def _fit_morse(x: NDArray[np.float32], energies: Floats, **meta: Floats) -> MorsePredictor:
    fitted = morse(Input(Configuration("n"), {"n": x.shape[1] - 1}))
    assert isinstance(fitted, Fitted) and "least squares" in fitted.how
    predictor = fitted.fit(Train(x, energies, meta=meta))
    assert isinstance(predictor, MorsePredictor)
    return predictor


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_morse_predictor_is_ase_morse_potential(which: str, request: pytest.FixtureRequest) -> None:
    frames: list[Atoms] = request.getfixturevalue(which)
    x, energies, forces = _labelled(frames, lambda: _ase_morse(0.3, 1.4, 2.7))
    predictor = MorsePredictor(0.3, 1.4, 2.7, 0.0)
    np.testing.assert_allclose(predictor(x), energies, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predictor.forces(x), forces, atol=1e-4)
    # traced, as the engine and a rollout take it: the FORCES gradient of its jax expression
    np.testing.assert_allclose(np.asarray(jax.jit(FORCES.of(predictor))(x)), forces, atol=1e-4)


def test_morse_fit_recovers_ase_morse_parameters(bulk_frames: list[Atoms]) -> None:
    frames = _frames(bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2), 8, 0.12, seed=9)
    x, energies, forces = _labelled(frames, lambda: _ase_morse(*KNOWN))
    with_forces = _fit_morse(x, energies, forces=forces)
    np.testing.assert_allclose(with_forces.theta, (*KNOWN, 0.0), rtol=1e-4, atol=1e-4)
    energies_only = _fit_morse(x, energies)  # no forces in the metadata: energies alone
    np.testing.assert_allclose(energies_only.theta, (*KNOWN, 0.0), rtol=1e-3, atol=1e-3)


def test_morse_fitted_to_emt_beats_the_training_mean() -> None:
    template = bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2)
    train = [f for seed in range(4) for f in _frames(template, 6, 0.04 + 0.03 * seed, seed=10 + seed)]
    test = [f for seed in range(2) for f in _frames(template, 6, 0.05 + 0.05 * seed, seed=20 + seed)]
    x, energies, forces = _labelled(train, EMT)
    x_test, energies_test, _ = _labelled(test, EMT)
    predictor = _fit_morse(x, energies, forces=forces)
    morse_mae = float(np.mean(np.abs(predictor(x_test) - energies_test)))
    mean_mae = float(np.mean(np.abs(np.mean(energies) - energies_test)))
    assert morse_mae < 0.2 * mean_mae, (morse_mae, mean_mae, predictor)


# -- EMT ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["bulk_frames", "cluster_frames"])
def test_emt_predictor_is_ase_emt(which: str, request: pytest.FixtureRequest) -> None:
    frames: list[Atoms] = request.getfixturevalue(which)
    x, energies, forces = _labelled(frames, EMT)
    fitted = emt(Input(Configuration("n"), {"n": x.shape[1] - 1}))
    assert isinstance(fitted, Fitted) and fitted.how.startswith("none")
    predictor = fitted.fit(Train(x[:1], energies[:1]))
    assert isinstance(predictor, EmtPredictor)
    # the configurations are float32: a few 1e-7 Å off ASE's own positions
    np.testing.assert_allclose(predictor(x), energies, atol=1e-4)
    np.testing.assert_allclose(predictor.forces(x), forces, atol=1e-4)


# -- Deep Sets, planned ------------------------------------------------------------------

Copper = Annotated[NDArray[np.float32], Configuration(32)]
Energies = Annotated[NDArray[np.float32], Scalar()]


@problem(task=Potential, field="chemistry")
def tiny_copper() -> Dataset[Copper, Energies]:
    """Four displaced fcc Cu cells and their EMT energies."""
    x, energies, _ = _labelled(_frames(bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2), 4, 0.1, seed=11), EMT)
    e = energies.astype(np.float32)
    return Dataset(train=Train(x[:3], e[:3]), test=sail_types.Test(x[3:], e[3:]))


def test_deep_sets_over_symmetry_functions_is_planned(catalog: Catalog) -> None:
    modules = tuple(m for m in catalog.modules if m.kind != "problem") + (describe(tiny_copper, "t", "0"),)
    runs = [r for r in Planner(Catalog(modules)).runs() if r.problem == "tiny_copper"]
    deep = [r for r in runs if r.model == "deep_sets"]
    assert deep and all(r.chain == ("symmetry_functions",) for r in deep)
    fills = {(f.slot, f.model, dict(f.dims).get("d")) for r in deep for f in r.fills}
    assert ("phi", "mlp_regressor", DESCRIPTORS) in fills
    assert {"pair_potential", "morse", "emt"} <= {r.model for r in runs}
