"""Predicting with a trained model, and the clocks of inference.

Both clocks are end to end, as a user calling the model sees it: NumPy inputs in, the
host-to-device transfer, the compiled forward pass, the device-to-host transfer, NumPy
outputs out. Each is compiled and warmed up by an untimed pass first.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray

from ..fit.predicting import INFERENCE_PASSES as INFERENCE_PASSES
from ..fit.predicting import latencies as _latencies
from ..fit.predicting import timed_passes
from .nn import CompiledModel, Params


@functools.lru_cache(maxsize=16)  # a batch pod's members share their model (``pod.compiled_once``), so its program too
def _forward(model: CompiledModel) -> Any:
    def forward(p: Params, batch: jax.Array) -> jax.Array:
        out = model.apply(p, batch)
        return jax.nn.softmax(out, axis=-1) if model.outputs_probabilities else out

    return jax.jit(forward)


def predict(model: CompiledModel, params: Params, x: NDArray[Any], *, passes: int = INFERENCE_PASSES) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """Model outputs on ``x`` (probabilities when the model ends in Softmax), and the seconds
    of each of ``passes`` timed passes over the whole of ``x``, end to end (NumPy in,
    transfers both ways, NumPy out), after an untimed pass that compiles and warms up.

    Returns:
        ``(outputs, seconds)``: the outputs of the untimed pass, and one time per pass.
    """
    fn = _forward(model)
    out = np.asarray(fn(params, jax.device_put(x)))
    return out, timed_passes(lambda: fn(params, jax.device_put(x)), passes)


def latencies(model: CompiledModel, params: Params, x: NDArray[Any], n: int = 200) -> NDArray[np.float64]:
    """Seconds to predict one sample, end to end (NumPy in, transfers both ways, NumPy out),
    ``n`` times (samples cycled from ``x``), compiled and warmed up first."""
    fn = _single(model)
    return _latencies(lambda sample: fn(params, jax.device_put(sample)), x, n)


@functools.lru_cache(maxsize=16)
def _single(model: CompiledModel) -> Any:
    return jax.jit(model.apply)


def predictions(scores: NDArray[Any], prediction: str, targets_shape: tuple[int, ...]) -> NDArray[Any]:
    """Model outputs as predictions in the form of the targets: ``argmax`` gives the class
    index of the highest score, ``identity`` reshapes the outputs to the targets' shape (a
    ``Scalar`` model's ``(n, 1)`` outputs for ``(n,)`` targets)."""
    out: NDArray[Any] = scores.argmax(-1) if prediction == "argmax" else scores.reshape(targets_shape)
    return out
