"""Parameter memory of a declarative model, counted without building it.

The planner checks that a model at its grid point fits the hardware's memory: parameters
times bytes per parameter at the software's precision. Layers it cannot size (a plugin's
own) are not checked rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sail_types import (
    AvgPool,
    Conv,
    Flatten,
    Gelu,
    Layer,
    LayerNorm,
    Linear,
    Map,
    MaxPool,
    Pipeline,
    Recurrent,
    Relu,
    Residual,
    Softmax,
    Sum,
    Tanh,
    evaluate_dim,
)

BYTES_PER_PARAMETER = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}
_SHAPELESS = (Relu, Tanh, Gelu, Softmax)


def parameters(layer: Layer, shape: tuple[int, ...], dims: Mapping[str, int]) -> tuple[int, tuple[int, ...]] | None:
    """``(parameter count, output shape)`` of ``layer`` on one sample of ``shape``, or
    ``None`` for a layer it cannot size."""
    if isinstance(layer, Linear):
        features = evaluate_dim(layer.features, dims)
        fan_in = shape[-1] if shape else 1
        return fan_in * features + (features if layer.bias else 0), shape[:-1] + (features,)
    if isinstance(layer, _SHAPELESS):
        return 0, shape
    if isinstance(layer, Sum):
        return 0, shape[1:]
    if isinstance(layer, Map):
        inner = parameters(layer.layer, shape[1:], dims)
        return None if inner is None else (inner[0], shape[:1] + inner[1])
    if isinstance(layer, Conv):
        kernel, features = evaluate_dim(layer.kernel, dims), evaluate_dim(layer.features, dims)
        return kernel ** (len(shape) - 1) * shape[-1] * features + features, layer.output_shape(shape, dims)
    if isinstance(layer, (MaxPool, AvgPool)):
        return 0, layer.output_shape(shape)
    if isinstance(layer, Flatten):
        return 0, (math.prod(shape),)
    if isinstance(layer, LayerNorm):
        return 2 * shape[-1], shape
    if isinstance(layer, Residual):
        return parameters(layer.layer, shape, dims)
    if isinstance(layer, Recurrent):
        return layer.parameter_count(shape, dims), layer.output_shape(shape, dims)
    if isinstance(layer, Pipeline):
        total = 0
        for sub in layer.layers:
            found = parameters(sub, shape, dims)
            if found is None:
                return None
            count, shape = found
            total += count
        return total, shape
    return None
