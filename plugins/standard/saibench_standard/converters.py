"""Converters that let vector models meet other types."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Tensor, TimeSeries, converter


@converter(cost=1.0)
def lag_features(x: Annotated[NDArray[Any], TimeSeries("t", "d")]) -> Annotated[NDArray[Any], Tensor("t*d")]:
    """Each window of ``t`` steps and ``d`` channels as ``t*d`` lag features, oldest step
    first (step-major), so that ridge, a Gaussian process or an MLP forecasts from the same
    window a sequence model reads."""
    return np.reshape(x, (x.shape[0], -1))
