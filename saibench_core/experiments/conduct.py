"""Conducting a problem's experiments on a trained model, and its gradients on a fixture.

Experiments are plugin code: one that raises (even ``SystemExit``) or returns anything but
a mapping fails alone, with its reason, and the run keeps its other results - the metrics
that read its observations are then not measured.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Experiment, Gradient, TrainedModel

from ..execute.logcap import cap
from .trained_model import BATCH


def gradient_values(model: TrainedModel, gradients: Sequence[Gradient], x: NDArray[Any]) -> tuple[dict[str, NDArray[Any]], dict[str, str]]:
    """Each declared gradient of ``model`` on ``x`` (in batches of ``BATCH``):
    ``(values by name, reasons by name for those the model cannot give)``."""
    values: dict[str, NDArray[Any]] = {}
    missing: dict[str, str] = {}
    for gradient in gradients:
        try:
            values[gradient.name] = np.concatenate([np.asarray(model.gradient(gradient.name, x[i:i + BATCH]))
                                                    for i in range(0, len(x), BATCH)])
        except KeyError as exc:
            missing[gradient.name] = str(exc.args[0])
    return values, missing


def _scalars(observations: Mapping[str, Any]) -> dict[str, float]:
    """The observations that are single numbers, as floats (what a result stores)."""
    out = {}
    for key, value in observations.items():
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[str(key)] = float(value)
        elif isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.number):
            out[str(key)] = float(value.reshape(()))
    return out


def conduct(experiments: Mapping[str, Experiment], model: TrainedModel) -> tuple[dict[str, Mapping[str, Any]], dict[str, Any]]:
    """Run each experiment on ``model``.

    Returns:
        ``(observations by experiment, record)``: the observations as each experiment
        returned them (what metrics read), and what the run stores of them: for each
        experiment its scalar observations and seconds, or the reason it failed.
    """
    observations: dict[str, Mapping[str, Any]] = {}
    record: dict[str, Any] = {}
    for name, experiment in experiments.items():
        start = time.perf_counter()
        try:
            found = experiment.run(model, experiment.data)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - plugin code; even SystemExit fails only this experiment
            record[name] = {"failed": cap(f"experiment {name!r} raised {type(exc).__name__}: {exc}"),
                            "seconds": time.perf_counter() - start}
            continue
        if not isinstance(found, Mapping):
            record[name] = {"failed": f"experiment {name!r} returned {type(found).__name__}, not a mapping of observations; "
                            "return e.g. {'rmsd': 0.12, 'energy_drift': 3.4}", "seconds": time.perf_counter() - start}
            continue
        observations[name] = found
        record[name] = {"observations": _scalars(found), "seconds": time.perf_counter() - start}
    return observations, record
