"""Converters between image types and the types generic models take."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Image, Tensor, converter


@converter(cost=1.0)
def flatten(x: Annotated[NDArray[Any], Image("h", "w", "c")]) -> Annotated[NDArray[Any], Tensor("h*w*c")]:
    """Flatten each image into a vector of ``h*w*c`` features (row-major)."""
    return np.reshape(x, (x.shape[0], -1))
