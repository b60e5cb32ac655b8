"""Parameter memory of a model, counted without training it.

The planner checks that a model at its grid point fits the hardware's memory: parameters
times bytes per parameter at the software's precision. Each layer counts its own
parameters (``sail_types.Layer.parameter_count``): the built-ins in pure Python, a plugin's
layer, a ``JaxModel`` or an Equinox module by ``jax.eval_shape`` of its ``init``, which the
planner runs in its plan-time child (``builds.judge_all``), so ``solve`` imports no JAX.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sail_types._models import as_layer

BYTES_PER_PARAMETER = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2}


def parameters(model: Any, shape: tuple[int, ...], dims: Mapping[str, int]) -> tuple[int, tuple[int, ...]] | None:
    """``(parameter count, output shape)`` of ``model`` on one sample of ``shape``.

    Args:
        model: what a model factory returned: a SAIL layer or an ``equinox.Module``.
        shape: one input sample's shape.
        dims: values of the symbolic dims.

    Returns:
        The count and the output sample's shape, or ``None`` for a value that is not a
        model (the run itself then reports it). A layer whose sizing raises propagates it:
        the plan-time child keeps such a point unjudged rather than guessed.
    """
    layer = as_layer(model)
    if layer is None:
        return None
    return layer.parameter_count(shape, dims), layer.output_shape(shape, dims)
