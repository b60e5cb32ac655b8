"""Regression targets on the network's own scale: a trained regressor outputs
``mean + std · network(x)``, with the mean and standard deviation of its training targets.

A network starts with outputs near zero and of order one. Targets far from that (a disease
score around 150, a configuration's energy of 2.5 eV with a spread of 0.26 eV) then cost
the first hundreds of updates just to move the output there, and a short run ends before
it learns anything else. Rescaling the output (never the targets the loss and metrics
read) starts every regressor at the targets' scale: the loss is still the task's, in the
targets' units, and a gradient target (forces, ``-∂E/∂x``) scales with it. Adam's updates
do not depend on the loss's scale, so nothing else changes.

It applies to regressions whose targets are a ``Scalar`` or a ``Tensor`` (one number per
output element, one mean and standard deviation for all of them); not to images (a
denoiser's output is an image, often the input plus a residual) nor to classifiers.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from sail_types import SailType, Scalar, Task, Tensor

from .nn import CompiledModel, Params


def target_scale(task: Task, output: SailType | None, y_train: Any) -> tuple[float, float] | None:
    """``(mean, std)`` of the training targets where the task's model is standardised, else ``None``."""
    y = np.asarray(y_train)
    if task.prediction != "identity" or not isinstance(output, (Scalar, Tensor)) or not np.issubdtype(y.dtype, np.floating) or not y.size:
        return None
    std = float(np.std(y))
    return float(np.mean(y)), std if np.isfinite(std) and std > 0 else 1.0


def standardized(model: CompiledModel, scale: tuple[float, float] | None) -> CompiledModel:
    """``model`` whose outputs are ``mean + std · outputs`` (as it is, for ``None``)."""
    if scale is None:
        return model
    mean, std = scale

    def apply(params: Params, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        return mean + std * model.apply(params, x, key=key)

    return CompiledModel(model.init, apply, model.outputs_probabilities)
