"""The chemistry community's leaderboards: accuracy of energies and forces, and how
molecular dynamics driven by the model's forces holds up."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sail_types import Pareto, ranking

ERROR_SPEED = Pareto(force_mae="min", rollout_steps_per_second="max")


@ranking(metrics=("energy_mae", "force_mae"), field="chemistry")
def by_energy_error(values: Mapping[str, float]) -> float:
    """Lowest energy error per atom first (score = -energy_mae, meV/atom); force error beside it."""
    return -values["energy_mae"]


@ranking(metrics=("force_mae", "energy_mae"), field="chemistry")
def by_force_error(values: Mapping[str, float]) -> float:
    """Lowest force error first (score = -force_mae, meV/Å): what molecular dynamics feels."""
    return -values["force_mae"]


@ranking(metrics=("rollout_stable_steps", "rollout_rmsd", "rollout_energy_drift", "rollout_speedup"), field="chemistry")
def by_rollout(values: Mapping[str, float]) -> float:
    """Most stable steps of the NVE rollout first, then the lowest RMSD to EMT's reference
    (score = stable steps - RMSD / 100 Å, so RMSD orders only equally stable models)."""
    rmsd = values["rollout_rmsd"]
    return values["rollout_stable_steps"] - (min(rmsd, 1e6) if math.isfinite(rmsd) else 1e6) / 100.0


@ranking(order=ERROR_SPEED, field="chemistry")
def pareto_error_speed(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Pareto fronts of force error (meV/Å, lower better) against molecular-dynamics steps
    per second with the model's forces (higher better): the accuracy a simulation buys at
    each speed, as interatomic-potential papers plot it."""
    return ERROR_SPEED.dominates(a, b)
