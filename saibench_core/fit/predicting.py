"""Predicting with a fitted method, and the clocks of inference.

Both clocks are end to end, as for a compiled model (``compile.inference``): NumPy inputs
in, the predictor, NumPy outputs out, after an untimed warm-up pass. Outputs are checked
against the model's output form before any metric reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .fitting import FitError

INFERENCE_PASSES = 7  # timed whole-fixture passes; the metric is their median (one pass varied 28x)


def timed_passes(run: Callable[[], Any], passes: int = INFERENCE_PASSES) -> NDArray[np.float64]:
    """The seconds of each of ``passes`` timed calls of ``run()``, each ended by
    ``np.asarray`` of its result (which waits for a device and copies back)."""
    seconds = np.empty(passes)
    for i in range(passes):
        start = time.perf_counter()
        np.asarray(run())
        seconds[i] = time.perf_counter() - start
    return seconds


def outputs(model: str, predictor: Callable[[Any], Any], x: NDArray[Any], shape: tuple[int, ...], fixture: str) -> NDArray[Any]:
    """``predictor(x)`` as a float NumPy array of ``(len(x), *shape)`` (a ``Scalar``'s
    ``(N, 1)`` is also accepted).

    Raises:
        FitError: the outputs are not numbers, or not of that shape; the message shows the
            shape expected and how to produce it.
    """
    try:
        out = np.asarray(predictor(x), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FitError(model, f"its predictor's outputs on the {fixture} fixture are not an array of numbers: {exc}") from None
    expected = (len(x), *shape)
    if out.shape == expected or (shape == () and out.shape == (len(x), 1)):
        return out
    hint = (f"per-class scores of shape {expected} (class indices c become scores with np.eye({shape[0]})[c])"
            if len(shape) == 1 else f"outputs of shape {expected}")
    raise FitError(model, f"its predictor returned shape {out.shape} for the {len(x)} samples of the {fixture} fixture; "
                   f"return {hint}")


def predict(model: str, predictor: Callable[[Any], Any], x: NDArray[Any], shape: tuple[int, ...], fixture: str, *,
            passes: int = INFERENCE_PASSES) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """The predictor's outputs on ``x`` (checked by ``outputs``) and the seconds of each of
    ``passes`` timed passes over the whole of ``x``, after the untimed one that gives them.

    Returns:
        ``(outputs, seconds)``.
    """
    out = outputs(model, predictor, x, shape, fixture)
    return out, timed_passes(lambda: predictor(x), passes)


def latencies(predictor: Callable[[Any], Any], x: NDArray[Any], n: int = 200) -> NDArray[np.float64]:
    """Seconds to predict one sample, end to end (NumPy in and out), ``n`` times (samples
    cycled from ``x``), after an untimed warm-up prediction."""
    samples = [np.asarray(x[i % len(x)])[None] for i in range(n)]
    np.asarray(predictor(samples[0]))
    out = np.empty(n)
    for i, sample in enumerate(samples):
        start = time.perf_counter()
        np.asarray(predictor(sample))
        out[i] = time.perf_counter() - start
    return out
