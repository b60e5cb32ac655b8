"""saibench-chemistry: machine-learned interatomic potentials for copper, judged against EMT.

Problems (``md_bulk``, ``md_cluster``) sample configurations from EMT molecular dynamics and
ask for their potential energy with its gradient, the forces; a ``rollout`` experiment then
runs molecular dynamics on the trained model's forces. Methods: a symmetry-function
descriptor, Deep Sets and a learned pair potential, a fitted Morse potential, and EMT
itself as the golden standard. Metrics: energy and force errors, and the rollout's energy
drift, deviation, stability and speed.
"""

from collections.abc import Callable, Sequence
from typing import Any

from sail_types import hookimpl

from .classical import emt, morse
from .descriptors import symmetry_functions
from .metrics import (
    energy_mae,
    force_mae,
    rollout_energy_drift,
    rollout_rmsd,
    rollout_speedup,
    rollout_stable_steps,
    rollout_steps_per_second,
)
from .models import deep_sets, pair_potential
from .problems import md_bulk, md_cluster
from .rankings import by_energy_error, by_force_error, by_rollout, pareto_error_speed
from .trainers import force_matching

__all__ = [
    "by_energy_error",
    "by_force_error",
    "by_rollout",
    "force_matching",
    "deep_sets",
    "emt",
    "energy_mae",
    "force_mae",
    "md_bulk",
    "md_cluster",
    "morse",
    "pair_potential",
    "pareto_error_speed",
    "rollout_energy_drift",
    "rollout_rmsd",
    "rollout_speedup",
    "rollout_stable_steps",
    "rollout_steps_per_second",
    "symmetry_functions",
]


@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    """The chemistry modules."""
    return [
        md_bulk, md_cluster, symmetry_functions, deep_sets, pair_potential, morse, emt,
        energy_mae, force_mae, rollout_energy_drift, rollout_rmsd, rollout_stable_steps, rollout_steps_per_second,
        rollout_speedup, by_energy_error, by_force_error, by_rollout, pareto_error_speed, force_matching,
    ]
