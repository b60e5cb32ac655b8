"""The chemistry problems: learn copper's EMT potential energy surface from molecular dynamics.

Each problem runs ASE's effective-medium potential (EMT) in Langevin molecular dynamics
(``simulate.trajectories``) and asks for the potential energy of each sampled configuration
(eV, total) and, as its gradient, the forces (``FORCES``, eV/Å). The splits are whole
trajectories - the first ``n_trajectories - 2`` train, the next one validates, the last one
tests - so that no test frame is a near neighbour in time of a training frame. An
experiment, ``rollout``, then integrates Newton's equations with the trained model's forces
from the test trajectory's last frame beside an EMT reference (``dynamics``).

Faithfulness: EMT is an empirical effective-medium potential fitted to copper's bulk
properties, not density functional theory; the learned models are judged on how well they
reproduce EMT. The thermostat is Langevin (NVT) in a fixed volume (no pressure control, no
thermal expansion); nuclei are classical (no zero-point motion), electrons absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import numpy as np
from numpy.typing import NDArray

from sail_types import (
    Configuration,
    Dataset,
    Experiment,
    Fixture,
    InvalidValue,
    Scalar,
    Test,
    Train,
    Validation,
    problem,
)

from .common import FORCES, Potential, pack

if TYPE_CHECKING:  # the simulator (ASE) and the rollout (JAX) are imported when a problem runs, so describing it stays cheap
    from .simulate import Trajectories

Progress = Callable[[float, str], None]

BULK_ATOMS = 32
CLUSTER_ATOMS = 38

Energies = Annotated[NDArray[np.float32], Scalar()]
Arrays = Fixture[NDArray[np.float32], NDArray[np.float32]]
Split = TypeVar("Split", bound=Arrays)


def _fixture(kind: type[Split], frames: Trajectories, ids: list[int]) -> Split:
    """The frames of trajectories ``ids`` as a ``kind`` fixture: packed configurations, total
    energies, and per-sample forces, atom counts and trajectory ids as metadata."""
    n, per = frames.n_atoms, frames.energies.shape[1]
    chosen = np.asarray(ids)
    x = pack(frames.numbers, frames.positions[chosen].reshape(-1, n, 3), frames.cell)
    y = frames.energies[chosen].reshape(-1).astype(np.float32)
    meta = {"forces": frames.forces[chosen].reshape(-1, n, 3).astype(np.float32),
            "atoms": np.full(len(y), n, dtype=np.int64), "trajectory": np.repeat(chosen, per).astype(np.int64)}
    return kind(x, y, meta=meta)


def _checksum(*fixtures: Arrays) -> str:
    digest = hashlib.sha256()
    for fixture in fixtures:
        for array in (fixture.x, fixture.y, fixture.meta["forces"]):
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def molecular_dynamics(
    system: str, *, temperature: float, n_trajectories: int, frames: int, interval: int, equilibration: int,
    seed: int, rollout_steps: int, rollout_dt_fs: float, rollout_record_every: int, progress: Progress | None,
) -> Dataset[NDArray[np.float32], NDArray[np.float32]]:
    """The dataset of ``md_bulk`` and ``md_cluster`` (their hyperparameters, ``system``
    naming the simulated system).

    Raises:
        InvalidValue: fewer than 3 trajectories (one each for train, validation and test).
    """
    from .dynamics import rollout, rollout_data
    from .simulate import trajectories

    if isinstance(n_trajectories, bool) or not isinstance(n_trajectories, int) or n_trajectories < 3:
        raise InvalidValue(f"md_{system}(n_trajectories={n_trajectories!r})", "the splits are whole trajectories: "
                           "give at least 3 (train, validation, test), e.g. n_trajectories=5")
    simulated = n_trajectories * (equilibration + frames * interval)
    share = simulated / (simulated + rollout_steps)

    def report(fraction: float, what: str) -> None:
        if progress is not None:
            progress(share * fraction, what)

    md = trajectories(system, temperature_K=temperature, n_trajectories=n_trajectories, frames=frames,
                      interval=interval, equilibration=equilibration, seed=seed, progress=report)
    train = _fixture(Train, md, list(range(n_trajectories - 2)))
    validation = _fixture(Validation, md, [n_trajectories - 2])
    test = _fixture(Test, md, [n_trajectories - 1])
    reference = rollout_data(md.numbers, md.cell, md.masses, md.positions[-1, -1], md.velocities[-1, -1],
                             steps=rollout_steps, dt_fs=rollout_dt_fs, record_every=rollout_record_every)
    if progress is not None:
        progress(1.0, f"{system}: EMT reference rollout")
    return Dataset(train=train, test=test, validation=validation, checksum=_checksum(train, validation, test),
                   experiments={"rollout": Experiment(rollout, data=reference)})


@problem(task=Potential, field="chemistry", kind="setting", unit="eV", gradients=[FORCES])
def md_bulk(
    *, temperature: float = 600.0, n_trajectories: int = 5, frames: int = 20, interval: int = 10,
    equilibration: int = 60, seed: int = 0, rollout_steps: int = 200, rollout_dt_fs: float = 2.0,
    rollout_record_every: int = 10, progress: Progress | None = None,
) -> Dataset[Annotated[NDArray[np.float32], Configuration(BULK_ATOMS)], Energies]:
    """Potential energy (eV, per configuration) and forces (eV/Å) of bulk fcc copper with EMT.

    32 atoms (2x2x2 conventional cells at EMT's lattice constant, 3.5898 Å) in a periodic
    cubic box of 7.18 Å, held at ``temperature`` by a Langevin thermostat (NVT, fixed volume,
    5 fs steps). EMT is an effective-medium potential, not DFT. The defaults are the quick
    configuration (5 trajectories x 20 frames: 60 train, 20 validation, 20 test
    configurations); a larger one is, e.g., ``n_trajectories=12, frames=100, interval=20``.

    Args:
        temperature: the thermostat's temperature in K (copper melts at 1358 K).
        n_trajectories: independent trajectories (>= 3): the first ``n_trajectories - 2``
            train, the next one validates, the last one tests.
        frames: frames kept from each trajectory.
        interval: MD steps between kept frames (never adjacent steps).
        equilibration: MD steps discarded at the start of each trajectory.
        seed: the seed of the initial velocities, displacements and thermostat noise.
        rollout_steps: steps of the ``rollout`` experiment (NVE, from the test trajectory's
            last frame, with the model's forces and with EMT's).
        rollout_dt_fs: its time step in fs.
        rollout_record_every: steps between its recorded frames.
        progress: ``progress(fraction, what)``, called as frames are simulated (the engine
            passes it).
    """
    return molecular_dynamics("bulk", temperature=temperature, n_trajectories=n_trajectories, frames=frames,
                              interval=interval, equilibration=equilibration, seed=seed, rollout_steps=rollout_steps,
                              rollout_dt_fs=rollout_dt_fs, rollout_record_every=rollout_record_every, progress=progress)


@problem(task=Potential, field="chemistry", kind="setting", unit="eV", gradients=[FORCES])
def md_cluster(
    *, temperature: float = 400.0, n_trajectories: int = 5, frames: int = 20, interval: int = 10,
    equilibration: int = 60, seed: int = 0, rollout_steps: int = 200, rollout_dt_fs: float = 2.0,
    rollout_record_every: int = 10, progress: Progress | None = None,
) -> Dataset[Annotated[NDArray[np.float32], Configuration(CLUSTER_ATOMS)], Energies]:
    """Potential energy (eV, per configuration) and forces (eV/Å) of a 38-atom copper cluster
    with EMT.

    A truncated octahedron (``ase.cluster.Octahedron("Cu", 4, cutoff=1)`` at EMT's lattice
    constant) in vacuum: no periodic boundaries (the cell row is zeros), surface atoms
    throughout. Held at ``temperature`` by a Langevin thermostat (5 fs steps, centre of
    mass fixed). EMT is an effective-medium potential, not DFT, and least trustworthy at
    low coordination. The defaults are the quick configuration (5 trajectories x 20
    frames: 60 train, 20 validation, 20 test configurations).

    Args:
        temperature: the thermostat's temperature in K (small clusters melt below bulk
            copper's 1358 K).
        n_trajectories, frames, interval, equilibration, seed, rollout_steps, rollout_dt_fs,
            rollout_record_every, progress: as for ``md_bulk``.
    """
    return molecular_dynamics("cluster", temperature=temperature, n_trajectories=n_trajectories, frames=frames,
                              interval=interval, equilibration=equilibration, seed=seed, rollout_steps=rollout_steps,
                              rollout_dt_fs=rollout_dt_fs, rollout_record_every=rollout_record_every, progress=progress)
