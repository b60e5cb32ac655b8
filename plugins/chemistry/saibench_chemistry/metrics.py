"""The chemistry metrics: energy and force errors on the fixtures, and what the ``rollout``
experiment observed when the model's forces drove molecular dynamics.

Each applies to ``Potential`` problems only. One that lacks what it reads (the atom counts,
the model's forces, the rollout's observations, which exist on the test fixture only)
returns NaN: not measured.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from sail_types import Evaluation, Scalar, metric

from .common import FORCES, Potential

NAN = float("nan")
ROLLOUT = "rollout"


def _observed(ev: Evaluation, name: str) -> float:
    """The rollout's observation ``name`` as a float, NaN where it is missing."""
    value: Any = ev.observations.get(ROLLOUT, {}).get(name)
    return NAN if value is None else float(value)


@metric(goal="min", unit="meV/atom", tasks=(Potential,))
def energy_mae(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean absolute error of the potential energy per atom: mean over configurations of
    ``|E_pred - E_true| / atoms``, in meV/atom."""
    atoms = ev.meta.get("atoms")
    if atoms is None or len(ev.y_true) == 0:
        return NAN
    error = np.abs(np.asarray(ev.y_pred, dtype=np.float64).ravel() - np.asarray(ev.y_true, dtype=np.float64).ravel())
    return float(np.mean(error / np.asarray(atoms, dtype=np.float64)) * 1000.0)


@metric(goal="min", unit="meV/Å", tasks=(Potential,))
def force_mae(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean absolute error over every force component (each atom's x, y, z) in meV/Å."""
    predicted, true = ev.gradients.get(FORCES.name), ev.meta.get(FORCES.name)
    if predicted is None or true is None or np.size(true) == 0:
        return NAN
    return float(np.mean(np.abs(np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64))) * 1000.0)


@metric(goal="min", unit="meV/atom", tasks=(Potential,))
def rollout_energy_drift(ev: Annotated[Evaluation, Scalar()]) -> float:
    """The largest ``|E(t) - E(0)|`` per atom of the model's own total energy (its potential
    plus kinetic) over the NVE rollout driven by its forces: near zero for a conservative,
    stable model (EMT's own, with 2 fs steps: about 0.04 meV/atom), inf once non-finite."""
    return _observed(ev, "energy_drift")


@metric(goal="min", unit="Å", tasks=(Potential,))
def rollout_rmsd(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Root mean square deviation of the atoms at the rollout's last record from EMT's
    reference rollout started from the same state (trajectories diverge chaotically, so a
    long rollout measures how soon, not whether)."""
    return _observed(ev, "rmsd")


@metric(goal="max", unit="steps", tasks=(Potential,))
def rollout_stable_steps(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Steps the model-driven rollout stayed physical (finite, drift under 100 meV/atom, no two
    atoms closer than 1.5 Å), to the last record before the first that was not; all of
    them if none."""
    return _observed(ev, "stable_steps")


@metric(goal="max", unit="steps/s", tasks=(Potential,))
def rollout_steps_per_second(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Molecular-dynamics steps per second with the model's forces (a JAX model's rollout
    is one compiled program, timed on its second execution)."""
    return _observed(ev, "steps_per_second")


@metric(goal="max", unit="x EMT", tasks=(Potential,))
def rollout_speedup(ev: Annotated[Evaluation, Scalar()]) -> float:
    """The model's MD steps per second over those of ASE's VelocityVerlet with EMT on the
    same system, timed in the same run on the same machine."""
    model, reference = _observed(ev, "steps_per_second"), _observed(ev, "reference_steps_per_second")
    return model / reference if reference > 0 else NAN
