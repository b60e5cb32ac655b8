"""Classical potentials fitted without gradient training: a Morse pair potential fitted by
nonlinear least squares, and EMT itself, the simulator the data come from.

Both are ``Fitted`` methods. Morse's predictor is ``jax.numpy`` (the engine differentiates
it for forces, a rollout jit-compiles it) and also gives its forces itself; EMT's runs
ASE and gives its forces as a method, ``predictor.forces(x)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from sail_types import Configuration, Fitted, Input, Scalar, Train, model

from .common import Potential, unpack
from .descriptors import CUTOFF, check_cell, is_traced
from .models import pair_energy

Configurations = NDArray[np.float32]
Floats = NDArray[np.float64]

SMOOTHING_START = 3.0
"""Å. Morse's pair energy is switched off smoothly from here to ``CUTOFF`` (ASE's quintic
``fcut``, C²), and is untouched below: the first shell of Cu keeps its exact Morse form."""
START = (0.34, 1.36, 2.63)
"""``(D eV, α 1/Å, r₀ Å)`` where the least squares start: Cu's Morse depth and range (Girifalco &
Weizer, Phys. Rev. 114, 687, 1959: 0.343 eV, 1.359 /Å) with r₀ moved in from their 2.87 Å towards
the fcc first shell (2.55 Å), the only one within the cutoff here; ``E₀`` starts at the mean
energy per atom the start leaves."""
LOWER, UPPER = (1e-3, 0.1, 1.0, -np.inf), (10.0, 10.0, CUTOFF, np.inf)  # (D, α, r₀, E₀): a well of positive depth inside the cutoff
ROWS_PER_CHUNK = 256  # configurations whose residuals and Jacobian are computed at a time: memory stays O(chunk × n²)


def smooth_cutoff(r: Any) -> Any:
    """1 below ``SMOOTHING_START``, 0 beyond ``CUTOFF``, the smoothstep ``6s⁵ - 15s⁴ + 10s³``
    between (ASE's ``ase.calculators.morse.fcut``): value, slope and curvature continuous."""
    import jax.numpy as jnp

    s = jnp.clip((CUTOFF - r) / (CUTOFF - SMOOTHING_START), 0.0, 1.0)
    return s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


def morse_energies(theta: Any, x: Any) -> Any:
    """``E = ½ Σ_{i≠j} D (e^{-2α(r_ij - r₀)} - 2 e^{-α(r_ij - r₀)}) fc(r_ij) + n E₀`` of
    configurations ``x`` ``(B, n + 1, 4)`` at ``theta = (D, α, r₀, E₀)``, pure ``jax.numpy``
    (``fc`` is ``smooth_cutoff``); ASE's ``MorsePotential(epsilon=D, r0=r₀, rho0=α r₀)``
    with ``rcut1, rcut2 = SMOOTHING_START / r₀, CUTOFF / r₀`` is the same potential."""
    import jax.numpy as jnp

    depth, alpha, r0, e0 = theta[0], theta[1], theta[2], theta[3]

    def term(r: Any) -> Any:
        decay = jnp.exp(-alpha * (r - r0))
        return depth * decay * (decay - 2.0) * smooth_cutoff(r)

    return pair_energy(term, x) + (x.shape[1] - 1) * e0


def potential_forces(energies: Callable[[Any], Any], x: Any) -> Any:
    """``-∂(Σ energies(x))/∂positions`` ``(B, n, 3)`` of configurations ``x`` ``(B, n + 1, 4)``."""
    import jax
    import jax.numpy as jnp

    return -jax.grad(lambda batch: jnp.sum(energies(batch)))(x)[:, 1:, 1:]


@attrs.frozen
class MorsePredictor:
    """A fitted Morse potential: ``predictor(x)`` its energies ``(B,)``, ``predictor.forces(x)``
    its forces ``(B, n, 3)``. NumPy in, NumPy out (float64, the cell checked); a JAX tracer
    in, the ``jax.numpy`` expression out, so that the engine can differentiate it.

    Attributes:
        depth: ``D`` (eV); alpha: ``α`` (1/Å); r0: ``r₀`` (Å); e0: ``E₀`` (eV per atom).
        cost: half the sum of squared standardised residuals at the fit (see ``fit_morse``).
    """

    depth: float
    alpha: float
    r0: float
    e0: float
    cost: float = float("nan")

    @property
    def theta(self) -> tuple[float, float, float, float]:
        """``(D, α, r₀, E₀)``."""
        return self.depth, self.alpha, self.r0, self.e0

    def __call__(self, x: Any) -> Any:
        if is_traced(x):
            return morse_energies(self.theta, x)
        check_cell(x, "model morse")
        return np.asarray(_compiled_energies()(np.asarray(self.theta), np.asarray(x)), dtype=np.float64)

    def forces(self, x: Any) -> Any:
        """The forces ``-∂E/∂positions`` (eV/Å), ``(B, n, 3)``."""
        if is_traced(x):
            return potential_forces(self, x)
        check_cell(x, "model morse")
        return np.asarray(_compiled_forces()(np.asarray(self.theta), np.asarray(x)), dtype=np.float64)


@functools.cache
def _compiled_energies() -> Any:
    import jax

    return jax.jit(morse_energies)


@functools.cache
def _compiled_forces() -> Any:
    import jax

    return jax.jit(lambda theta, x: potential_forces(lambda batch: morse_energies(theta, batch), x))


def _spread(values: Floats, floor: float) -> float:
    """The root-mean-square spread of ``values`` about their mean, at least ``floor``."""
    return max(float(np.std(values)) if values.size > 1 else 0.0, floor)


def _residuals(theta: Any, x: Any, energies: Any, forces: Any, scales: Any) -> Any:
    """The standardised residuals of one chunk: energies ``(B,)``, then forces ``(B·n·3,)``
    where ``forces`` is not ``None``; ``scales`` divides each."""
    import jax.numpy as jnp

    parts = [(morse_energies(theta, x) - energies) / scales[0]]
    if forces is not None:
        predicted = potential_forces(lambda batch: morse_energies(theta, batch), x)
        parts.append(((predicted - forces) / scales[1]).reshape(-1))
    return jnp.concatenate(parts)


@functools.cache
def _compiled_residuals() -> tuple[Any, Any]:
    """``_residuals`` and its Jacobian in ``theta`` (forward mode: 4 parameters), jit-compiled
    once per process."""
    import jax

    return jax.jit(_residuals), jax.jit(jax.jacfwd(_residuals))


def fit_morse(train: Train[Configurations, NDArray[np.floating]]) -> MorsePredictor:
    """``(D, α, r₀, E₀)`` by nonlinear least squares (SciPy's trust-region reflective
    ``least_squares``, bounds ``LOWER``..``UPPER``, the exact Jacobian by forward-mode JAX, float64).

    The residuals are the energy errors per atom over the spread of the training energies
    per atom and, where ``train.meta["forces"]`` ``(N, n, 3)`` is given, the force errors
    over the forces' root mean square, divided by ``√(3n)``: each configuration's energy
    and its ``3n`` force components weigh alike, and predicting the mean scores about 1 on
    each. Without forces, energies alone are fitted.
    """
    import jax
    import jax.numpy as jnp
    from scipy.optimize import least_squares  # lazy: describing must stay cheap

    check_cell(train.x, "model morse")
    x = np.asarray(train.x, np.float64)
    n = x.shape[1] - 1
    energies = np.asarray(train.y, np.float64).reshape(len(x))
    forces = train.meta.get("forces")
    force_rms = 1.0 if forces is None else max(float(np.sqrt(np.mean(np.square(forces)))), 1e-3)
    value, jacobian = _compiled_residuals()
    with jax.enable_x64(True):
        scales = jnp.asarray([n * _spread(energies / n, 1e-4), force_rms * np.sqrt(3 * n)])
        chunks = [(jnp.asarray(x[s:s + ROWS_PER_CHUNK]), jnp.asarray(energies[s:s + ROWS_PER_CHUNK]),
                   None if forces is None else jnp.asarray(np.asarray(forces, np.float64)[s:s + ROWS_PER_CHUNK]), scales)
                  for s in range(0, len(x), ROWS_PER_CHUNK)]
        pair_start = np.concatenate([np.asarray(_compiled_energies()(jnp.asarray((*START, 0.0)), c[0])) for c in chunks])
        start = np.array([*START, float(np.mean((energies - pair_start) / n))])
        found = least_squares(
            lambda theta: np.concatenate([np.asarray(value(jnp.asarray(theta), *c)) for c in chunks]), start,
            jac=lambda theta: np.concatenate([np.asarray(jacobian(jnp.asarray(theta), *c)) for c in chunks]),
            bounds=(LOWER, UPPER), method="trf", x_scale="jac", ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=500)
    depth, alpha, r0, e0 = (float(v) for v in found.x)
    return MorsePredictor(depth, alpha, r0, e0, cost=float(found.cost))


@model(task=Potential, field="chemistry")
def morse(x: Annotated[Input, Configuration("n")]) -> Annotated[Fitted, Scalar()]:
    """A Morse pair potential (Morse, Phys. Rev. 34, 57, 1929; for metals Girifalco & Weizer
    1959): ``E = ½ Σ_{i≠j} D (e^{-2α(r-r₀)} - 2 e^{-α(r-r₀)}) fc(r) + n E₀``, ``fc``
    switching it off smoothly between 3.0 and 3.5 Å, its four parameters fitted by
    nonlinear least squares to the training energies and forces (``fit_morse``)."""
    return Fitted(fit_morse, how="Morse pair potential, D, α, r0, E0 by nonlinear least squares on energies and forces")


def emt_atoms(x: Configurations) -> list[Any]:
    """ASE ``Atoms`` of configurations ``(B, n + 1, 4)``: atomic numbers and positions from
    rows 1.., an orthorhombic cell from row 0, periodic along its nonzero edges."""
    from ase import Atoms

    numbers, positions, cells = unpack(x)
    return [Atoms(numbers=z, positions=np.asarray(p, np.float64), cell=np.diag(np.asarray(c, np.float64)), pbc=c > 0)
            for z, p, c in zip(numbers, positions, cells)]


@attrs.frozen
class EmtPredictor:
    """ASE's EMT (Jacobsen, Stoltze & Nørskov, Surf. Sci. 366, 394, 1996) on each
    configuration: ``predictor(x)`` energies ``(B,)`` (eV), ``predictor.forces(x)`` forces
    ``(B, n, 3)`` (eV/Å). NumPy only: not traceable, hence its own ``forces``."""

    def __call__(self, x: Configurations) -> Floats:
        return np.array([atoms.get_potential_energy() for atoms in _emt_atoms(x)], dtype=np.float64)

    def forces(self, x: Configurations) -> Floats:
        """EMT's forces on every atom."""
        n = _concrete(x).shape[1] - 1
        return np.array([atoms.get_forces() for atoms in _emt_atoms(x)], dtype=np.float64).reshape(-1, n, 3)


def _concrete(x: Any) -> NDArray[Any]:
    if is_traced(x):
        raise TypeError("model emt runs ASE's EMT on concrete NumPy arrays: it cannot be traced by JAX (jit, grad); "
                        "call predictor(x) and predictor.forces(x) with NumPy configurations")
    return np.asarray(x)


def _emt_atoms(x: Configurations) -> list[Any]:
    from ase.calculators.emt import EMT

    found = emt_atoms(_concrete(x))
    for atoms in found:
        atoms.calc = EMT()
    return found


def fit_emt(train: Train[Configurations, NDArray[np.floating]]) -> EmtPredictor:
    """Nothing to learn: EMT is the simulator the data come from."""
    return EmtPredictor()


@model(task=Potential, field="chemistry")
def emt(x: Annotated[Input, Configuration("n")]) -> Annotated[Fitted, Scalar()]:
    """EMT itself, the golden standard: the simulator that generated the data, so its
    energy and force errors are those of the data (zero for data it made), and its
    rollout's speed is the one a learned potential must beat."""
    return Fitted(fit_emt, how="none: ASE's EMT, the simulator that generated the data (golden standard)")
