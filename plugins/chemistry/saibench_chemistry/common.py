"""What every chemistry module shares: the task, the force target and the layout of a
``Configuration`` sample."""

from __future__ import annotations

import numpy as np

from sail_types import Gradient, Regress, Task

Potential = Task("Potential", refines=Regress)
"""Predict a configuration's potential energy (eV) and, as its gradient, the atoms' forces.
It refines ``Regress``: every regression model meets it, and the chemistry metrics
(``energy_mae``, ``force_mae``, the rollout's) attach to its problems only."""

FORCES = Gradient("forces", wrt=np.s_[1:, 1:4], sign=-1.0, weight=1.0)
"""Forces on the atoms, ``-∂E/∂positions`` (eV/Å): rows 1.. (the atoms), columns 1-3 (x, y, z)
of a ``Configuration`` sample; their true values are every fixture's ``meta["forces"]``."""

CELL_ROW = 0  # row 0 of a Configuration sample: (0, a, b, c), the cell's edges in Å (zeros: no periodic boundaries)


def pack(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Configuration samples ``(F, n + 1, 4)`` from atomic numbers ``(n,)``, positions
    ``(F, n, 3)`` in Å and the orthorhombic cell's edges ``(3,)`` (zeros: a cluster)."""
    positions = np.asarray(positions, dtype=np.float64)
    frames, n = positions.shape[:2]
    out = np.zeros((frames, n + 1, 4), dtype=np.float32)
    out[:, 0, 1:] = np.asarray(cell, dtype=np.float64)
    out[:, 1:, 0] = np.asarray(numbers)
    out[:, 1:, 1:] = positions
    return out


def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(numbers (F, n), positions (F, n, 3), cell (F, 3))`` of Configuration samples ``(F, n + 1, 4)``."""
    x = np.asarray(x)
    return x[:, 1:, 0].astype(np.int64), x[:, 1:, 1:], x[:, 0, 1:]
