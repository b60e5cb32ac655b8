# mypy: untyped-calls-exclude=ase
"""Molecular dynamics steps per second: ASE with EMT against JAX potentials in one ``lax.scan``.

    python benchmarks/md_steps.py [--steps 500] [--reference-steps 100] [--repeat 3] [--json]

On the chemistry problems' two systems (``simulate.build``: 32 Cu atoms in a periodic
7.18 Å fcc box, and the 38-atom truncated-octahedron cluster), NVE velocity Verlet from
the same 300 K state, 2 fs steps:

- *ASE VelocityVerlet + EMT* (the named baseline): what the ``rollout`` experiment's
  reference runs, NumPy in a Python loop;
- *scan* cases: ``dynamics.velocity_verlet``, the whole run one compiled program, forces
  ``-∂E/∂r`` by ``FORCES.of`` as the rollout takes them, of
  - the learned pair potential (``models.pair_network(32)``, random weights: the speed
    of a trained one),
  - Deep Sets over the Behler-Parrinello symmetry functions (``descriptors.describe_atoms``
    then a 16-32-32-1 tanh network per atom, random weights), the costlier learned
    potential (its angular terms are O(n³)),
  - the Morse potential (``dynamics.morse_energy``, ASE's formula, cutoff 3.44 Å);
- *per-step jit*: the pair potential's jitted forces called from a Python loop, the usual
  way without a scan.

Each case is compiled and executed once first, then timed on further executions
(``block_until_ready``), as the rollout times its own; the cases are interleaved ``--repeat`` times and each figure is the median, its ratio to EMT
the median of the paired (same repetition) ratios. With ``--json`` the last line is one
JSON object: ``{system: {case: {"steps_per_s", "ratio_to_emt"}}}``.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from ase import units
from saibench_chemistry.common import FORCES
from saibench_chemistry.descriptors import DESCRIPTORS, describe_atoms
from saibench_chemistry.dynamics import (
    COPPER_MORSE,
    System,
    configurations,
    morse_energy,
    reference_rate,
    velocity_verlet,
)
from saibench_chemistry.models import pair_network
from saibench_chemistry.simulate import build, cell_edges

DT_FS, TEMPERATURE_K, WIDTH = 2.0, 300.0, 32
MORSE: dict[str, Any] = {**COPPER_MORSE, "rcut1": 1.0, "rcut2": 1.2}  # cutoff 3.44 Å, under half the bulk box
Energy = Callable[[jax.Array], jax.Array]


def start(system: str, steps: int) -> System:
    """The system's ideal structure with seeded 300 K Maxwell-Boltzmann velocities."""
    atoms = build(system)
    masses = atoms.get_masses()
    velocities = np.random.default_rng(0).normal(size=(len(atoms), 3)) * np.sqrt(units.kB * TEMPERATURE_K / masses)[:, None]
    return System(atoms.numbers, cell_edges(atoms), masses, atoms.positions, velocities - velocities.mean(axis=0),
                  DT_FS * units.fs, steps, steps)


def deep_sets_energy(key: jax.Array) -> Energy:
    """Σ over atoms of a tanh network of its symmetry functions (random weights)."""
    sizes = (DESCRIPTORS, WIDTH, WIDTH, 1)
    layers = [(jax.random.normal(k, (a, b)) / np.sqrt(a), jnp.zeros(b)) for k, a, b in zip(jax.random.split(key, 3), sizes, sizes[1:])]

    def energy(x: jax.Array) -> jax.Array:
        h = describe_atoms(x)
        for w, b in layers[:-1]:
            h = jnp.tanh(h @ w + b)
        return jnp.sum(h @ layers[-1][0] + layers[-1][1], axis=(1, 2))

    return energy


def pair_potential_energy(key: jax.Array) -> Energy:
    init, apply = pair_network(WIDTH)
    params = init(key, ())
    return functools.partial(apply, params)


def scan_rate(energy: Energy, system: System) -> Callable[[], float]:
    """A clock of ``velocity_verlet`` with ``energy``'s forces, one program compiled (and
    executed once) now: each call times one more execution, in steps per second."""
    forces = FORCES.of(energy)

    def trajectory(r: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return velocity_verlet(lambda p: forces(configurations(system.numbers, system.cell, p)[None])[0], r, v, system.masses,
                               dt=system.dt, steps=system.steps, record_every=system.record_every)

    state = jnp.asarray(system.positions, jnp.float32), jnp.asarray(system.velocities, jnp.float32)
    compiled = jax.jit(trajectory).lower(*state).compile()
    positions, _ = jax.block_until_ready(compiled(*state))  # type: ignore[no-untyped-call]
    if not np.isfinite(np.asarray(positions)).all():
        raise SystemExit(f"the rollout of {energy} blew up: its rate would mean nothing")

    def measure() -> float:
        clock = time.perf_counter()
        jax.block_until_ready(compiled(*state))  # type: ignore[no-untyped-call]
        return system.steps / (time.perf_counter() - clock)

    return measure


def per_step_rate(energy: Energy, system: System) -> Callable[[], float]:
    """A clock of velocity Verlet in a Python loop calling jitted forces (compiled now)."""
    forces = jax.jit(FORCES.of(energy))
    numbers, cell = jnp.asarray(system.numbers, jnp.float32), jnp.asarray(system.cell, jnp.float32)
    inverse_mass = jnp.asarray(1.0 / system.masses[:, None], jnp.float32)
    start = jnp.asarray(system.positions, jnp.float32), jnp.asarray(system.velocities, jnp.float32)

    def step_forces(p: jax.Array) -> jax.Array:
        return jnp.asarray(forces(configurations(numbers, cell, p)[None])[0])

    first = jax.block_until_ready(step_forces(start[0]))  # type: ignore[no-untyped-call]

    def measure() -> float:
        (r, v), f = start, first
        clock = time.perf_counter()
        for _ in range(system.steps):
            v = v + 0.5 * system.dt * f * inverse_mass
            r = r + system.dt * v
            f = step_forces(r)
            v = v + 0.5 * system.dt * f * inverse_mass
        jax.block_until_ready(v)  # type: ignore[no-untyped-call]
        return system.steps / (time.perf_counter() - clock)

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="Steps of each scan rollout.")
    parser.add_argument("--reference-steps", type=int, default=100, help="Steps of ASE + EMT and of the per-step-jit loop.")
    parser.add_argument("--repeat", type=int, default=3, help="Measurements per case (the median is reported).")
    parser.add_argument("--platform", default="cpu", help="JAX platform of the JAX cases (cpu, gpu).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    jax.config.update("jax_platforms", args.platform)  # type: ignore[no-untyped-call]
    pair, deep_sets = pair_potential_energy(jax.random.key(0)), deep_sets_energy(jax.random.key(1))
    morse = functools.partial(morse_energy, **MORSE)
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("bulk", "cluster"):
        long, short = start(name, args.steps), start(name, args.reference_steps)
        cases: dict[str, Callable[[], float]] = {
            "ASE VelocityVerlet + EMT (baseline)": functools.partial(reference_rate, short, short.steps),
            "scan: learned pair potential": scan_rate(pair, long),
            "scan: Deep Sets over symmetry functions": scan_rate(deep_sets, long),
            "scan: Morse": scan_rate(morse, long),
            "per-step jit: learned pair potential": per_step_rate(pair, short),
        }
        rates: dict[str, list[float]] = {case: [] for case in cases}
        for _ in range(args.repeat):  # interleaved: the machine's load drifts cancel in each repetition's ratios
            for case, measure in cases.items():
                rates[case].append(measure())
        baseline = rates["ASE VelocityVerlet + EMT (baseline)"]
        atoms = len(long.numbers)
        print(f"{name} ({atoms} Cu atoms), median of {args.repeat:<10}{'steps/s':>12}{'ratio to EMT':>15}")
        result[name] = {}
        for case, values in rates.items():
            rate, ratio = statistics.median(values), statistics.median(v / b for v, b in zip(values, baseline))
            print(f"{case:<44}{rate:>12,.0f}{ratio:>15.1f}")
            result[name][case] = {"steps_per_s": round(rate, 1), "ratio_to_emt": round(ratio, 2)}
    print(f"JAX on {jax.devices()[0].platform}; scan rollouts of {args.steps} steps, ASE and per-step loops of {args.reference_steps}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
