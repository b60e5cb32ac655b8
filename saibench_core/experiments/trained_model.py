"""The trained model as experiments see it (``sail_types.TrainedModel``): the problem's own
inputs in (the run's converters applied inside), outputs in the targets' form out, a pure
JAX function where the model is one, and each of the problem's declared gradients."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import NDArray

from sail_types import Gradient, TrainedModel

from ..compile.nn import CompiledModel, Params

BATCH = 256  # samples per call when gradients are evaluated on a whole fixture


def _per_sample(out: Any) -> Any:
    """A ``Scalar`` model's ``(B, 1)`` outputs as ``(B,)``; others as they are."""
    return out.reshape(out.shape[0]) if out.ndim == 2 and out.shape[1] == 1 else out


def _numpy(fn: Callable[[Any], Any]) -> Callable[[NDArray[Any]], NDArray[Any]]:
    return lambda x: np.asarray(fn(jnp.asarray(x, dtype=jnp.float32)))


def of_compiled(name: str, model: CompiledModel, params: Params, gradients: Sequence[Gradient]) -> TrainedModel:
    """A trained network (``model`` taking the problem's own inputs: see ``differentiable.chained``)."""

    def forward(x: Any) -> Any:
        out = model.apply(params, x)
        return _per_sample(jax.nn.softmax(out, axis=-1) if model.outputs_probabilities else out)

    return TrainedModel(name, _numpy(jax.jit(forward)), forward,
                        {g.name: _numpy(jax.jit(g.of(forward))) for g in gradients})


def _traces(fn: Callable[[Any], Any], sample: NDArray[Any]) -> bool:
    try:
        jax.eval_shape(fn, jax.ShapeDtypeStruct((2, *sample.shape[1:]), jnp.float32))  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - a plugin's predictor written with NumPy (or anything else) does not trace
        return False
    return True


def of_fitted(name: str, predictor: Callable[[Any], Any], convert: Callable[[Any], Any], traced_convert: Callable[[Any], Any] | None,
              gradients: Sequence[Gradient], sample: NDArray[Any]) -> TrainedModel:
    """A fitted method: ``predictor`` after ``convert`` (the run's chain, NumPy), also as
    a JAX function when the predictor and ``traced_convert`` (the chain in ``jax.numpy``;
    ``None``: the run has no chain) trace with JAX (checked on ``sample``'s shape).

    Gradients: by ``jax.grad`` where it traces; otherwise the predictor's own method named
    as the gradient (``predictor.forces(x)``), when the run has no converter chain; else
    none (metrics that need it are not measured)."""
    chain = traced_convert or (lambda x: x)

    def forward(x: Any) -> Any:
        return _per_sample(jnp.asarray(predictor(chain(x))))

    predict = lambda x: _per_sample(np.asarray(predictor(convert(x))))  # noqa: E731
    if _traces(forward, sample):
        return TrainedModel(name, predict, forward, {g.name: _numpy(jax.jit(g.of(forward))) for g in gradients})
    own = {g.name: _as_numpy(getattr(predictor, g.name)) for g in gradients
           if traced_convert is None and callable(getattr(predictor, g.name, None))}
    return TrainedModel(name, predict, None, own)


def _as_numpy(method: Callable[[Any], Any]) -> Callable[[NDArray[Any]], NDArray[Any]]:
    return lambda x: np.asarray(method(x))
