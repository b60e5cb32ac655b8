"""Non-finite numbers fail a run: a diverged loss, parameters or predictions.

A run whose loss went to NaN still produces metrics (an accuracy of 10 %, a NaN MAE) that
would be stored as ok and ranked; it is a failed run, with the epoch and what went
non-finite. Metrics themselves may be non-finite on purpose (NaN: not measured, inf: never
reached), so they are not checked here.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ..errors import SaibenchError


class NonFinite(SaibenchError, FloatingPointError):
    """Training or prediction produced NaN or infinity; the message says where and when.

    Attributes:
        what: what went non-finite (``"train loss"``, ``"parameters"``, ``"predictions"``).
        epoch: the first non-finite epoch (1-based) for the train loss, else ``None``.
    """

    def __init__(self, message: str, what: str, epoch: int | None = None) -> None:
        super().__init__(message)
        self.what = what
        self.epoch = epoch


def check_losses(losses: Any) -> None:
    """Raise ``NonFinite`` at the first epoch whose mean training loss is NaN or infinite.

    Raises:
        NonFinite: "training diverged: train loss is nan from epoch 7 of 40 (first
            non-finite epoch)".
    """
    values = np.asarray(losses, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        first = int(bad[0])
        raise NonFinite(f"training diverged: train loss is {values[first]} from epoch {first + 1} of {len(values)} "
                        "(first non-finite epoch); lower the learning rate or check the data's scale", "train loss", first + 1)


def check_parameters(params: Any) -> None:
    """Raise ``NonFinite`` naming every parameter leaf that holds NaN or infinity.

    Raises:
        NonFinite: "parameters are non-finite after training: [0]['w']".
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(params)
    bad = [jax.tree_util.keystr(path) for path, leaf in leaves
           if np.issubdtype(np.asarray(leaf).dtype, np.inexact) and not np.all(np.isfinite(np.asarray(leaf)))]
    if bad:
        raise NonFinite(f"parameters are non-finite after training: {', '.join(bad)}", "parameters")


def check_predictions(scores: Any, fixture: str) -> None:
    """Raise ``NonFinite`` when any sample's model output holds NaN or infinity.

    Raises:
        NonFinite: "predictions on the test fixture: 12 of 450 non-finite".
    """
    values = np.asarray(scores)
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        raise NonFinite(f"predictions on the {fixture} fixture: {int(bad.sum())} of {len(values)} non-finite", "predictions")
