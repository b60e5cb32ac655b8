"""Predicting with a trained model, and the clocks of inference.

Both clocks are end to end, as a user calling the model sees it: NumPy inputs in, the
host-to-device transfer, the compiled forward pass, the device-to-host transfer, NumPy
outputs out. Each is compiled and warmed up by an untimed pass first.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import numpy as np
from numpy.typing import NDArray

from .nn import CompiledModel, Params

INFERENCE_PASSES = 7  # timed whole-fixture passes; the metric is their median (one pass varied 28x)


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
    seconds = np.empty(passes)
    for i in range(passes):
        start = time.perf_counter()
        np.asarray(fn(params, jax.device_put(x)))  # np.asarray waits for the device and copies back
        seconds[i] = time.perf_counter() - start
    return out, seconds


def latencies(model: CompiledModel, params: Params, x: NDArray[Any], n: int = 200) -> NDArray[np.float64]:
    """Seconds to predict one sample, end to end (NumPy in, transfers both ways, NumPy out),
    ``n`` times (samples cycled from ``x``), compiled and warmed up first."""
    fn = jax.jit(model.apply)
    samples = [np.asarray(x[i % len(x)])[None] for i in range(n)]
    np.asarray(fn(params, jax.device_put(samples[0])))
    out = np.empty(n)
    for i, sample in enumerate(samples):
        start = time.perf_counter()
        np.asarray(fn(params, jax.device_put(sample)))
        out[i] = time.perf_counter() - start
    return out


def predictions(scores: NDArray[Any], prediction: str, targets_shape: tuple[int, ...]) -> NDArray[Any]:
    """Model outputs as predictions in the form of the targets: ``argmax`` gives the class
    index of the highest score, ``identity`` reshapes the outputs to the targets' shape (a
    ``Scalar`` model's ``(n, 1)`` outputs for ``(n,)`` targets)."""
    out: NDArray[Any] = scores.argmax(-1) if prediction == "argmax" else scores.reshape(targets_shape)
    return out
