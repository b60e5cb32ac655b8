"""Compile declarative SAIL layers into pure JAX ``init``/``apply`` functions.

Parameters are pytrees (a tuple per ``Pipeline``, a dict per ``Linear``), so the compiled
model composes with ``jax.jit``, ``jax.grad`` and optax. A trailing ``Softmax`` is left
out of ``apply`` and reported in ``outputs_probabilities``: the loss fuses it with the
log-likelihood (``optax.softmax_cross_entropy_with_integer_labels``) for stability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import jax
import jax.numpy as jnp

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

from ..errors import InvalidSignature
from . import layers

Params = Any
Shape = tuple[int, ...]
InitFn = Callable[[jax.Array, Shape], tuple[Params, Shape]]
ApplyFn = Callable[[Params, jax.Array], jax.Array]

_ACTIVATIONS: dict[type[Layer], Callable[[jax.Array], jax.Array]] = {
    Relu: jax.nn.relu, Tanh: jnp.tanh, Gelu: jax.nn.gelu, Softmax: lambda x: jax.nn.softmax(x, axis=-1),
}


@attrs.frozen
class CompiledModel:
    """A model as pure functions: ``init(key, sample_shape) -> (params, out_shape)`` and
    ``apply(params, batch) -> outputs`` (logits when ``outputs_probabilities``)."""

    init: InitFn
    apply: ApplyFn
    outputs_probabilities: bool


def _linear(layer: Linear, dims: Mapping[str, int]) -> tuple[InitFn, ApplyFn]:
    features = evaluate_dim(layer.features, dims)

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        w = jax.nn.initializers.lecun_normal()(key, (shape[-1], features), jnp.float32)
        params = {"w": w, "b": jnp.zeros((features,), jnp.float32)} if layer.bias else {"w": w}
        return params, shape[:-1] + (features,)

    def apply(params: Params, x: jax.Array) -> jax.Array:
        y: jax.Array = x @ params["w"]
        return y + params["b"] if layer.bias else y

    return init, apply


def _pipeline(layer: Pipeline, dims: Mapping[str, int]) -> tuple[InitFn, ApplyFn]:
    parts = [_compile(sub, dims) for sub in layer.layers]

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        params = []
        for (part_init, _), part_key in zip(parts, jax.random.split(key, max(len(parts), 1))):
            p, shape = part_init(part_key, shape)
            params.append(p)
        return tuple(params), shape

    def apply(params: Params, x: jax.Array) -> jax.Array:
        for (_, part_apply), p in zip(parts, params):
            x = part_apply(p, x)
        return x

    return init, apply


def _residual(layer: Residual, dims: Mapping[str, int]) -> tuple[InitFn, ApplyFn]:
    inner_init, inner_apply = _compile(layer.layer, dims)

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        params, out = inner_init(key, shape)
        if out != shape:
            raise InvalidSignature(repr(layer), f"a residual block must keep its input shape {shape}, its layer gives {out}")
        return params, shape

    return init, lambda params, x: x + inner_apply(params, x)


def _map(layer: Map, dims: Mapping[str, int]) -> tuple[InitFn, ApplyFn]:
    inner_init, inner_apply = _compile(layer.layer, dims)

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        params, out = inner_init(key, shape[1:])
        return params, shape[:1] + out

    def apply(params: Params, x: jax.Array) -> jax.Array:
        y = inner_apply(params, x.reshape((-1,) + x.shape[2:]))  # elements of every set, as one batch
        return y.reshape(x.shape[:2] + y.shape[1:])

    return init, apply


def _compile(layer: Layer, dims: Mapping[str, int]) -> tuple[InitFn, ApplyFn]:
    if isinstance(layer, Linear):
        return _linear(layer, dims)
    if isinstance(layer, Map):
        return _map(layer, dims)
    if isinstance(layer, Sum):
        return (lambda key, shape: ((), shape[1:])), (lambda params, x: x.sum(axis=1))
    if isinstance(layer, Residual):
        return _residual(layer, dims)
    if isinstance(layer, Conv):
        return layers.conv(layer, dims)
    if isinstance(layer, (MaxPool, AvgPool)):
        return layers.pool(layer)
    if isinstance(layer, Flatten):
        return layers.flatten()
    if isinstance(layer, LayerNorm):
        return layers.layer_norm(layer)
    if isinstance(layer, Recurrent):
        return layers.recurrent(layer, dims)
    if isinstance(layer, Pipeline):
        return _pipeline(layer, dims)
    if type(layer) in _ACTIVATIONS:
        fn = _ACTIVATIONS[type(layer)]
        return (lambda key, shape: ((), shape)), (lambda params, x: fn(x))
    raise InvalidSignature(repr(layer), "saibench cannot compile this layer yet; use Pipeline, Linear, Conv, MaxPool, AvgPool, Flatten, LayerNorm, Residual, LSTM, GRU, Map, Sum, Relu, Tanh, Gelu, Softmax")


PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def compile_model(layer: Layer, dims: Mapping[str, int], precision: str = "float32") -> CompiledModel:
    """Compile a declarative layer, symbolic widths bound from ``dims``.

    With ``precision="bfloat16"`` (mixed precision) parameters stay float32 - the optimizer
    updates them there - and are cast, with the inputs, for the forward pass; outputs come
    back as float32 so that losses and metrics are computed at full precision.

    Example:
        >>> from sail_types import Pipeline, Linear, Relu, Softmax
        >>> m = compile_model(Pipeline(Linear(8), Relu(), Linear("k"), Softmax()), {"k": 3})
        >>> params, out = m.init(jax.random.key(0), (5,))
        >>> out, m.outputs_probabilities
        ((3,), True)
    """
    probabilities = False
    if isinstance(layer, Pipeline) and layer.layers and isinstance(layer.layers[-1], Softmax):
        layer, probabilities = Pipeline(*layer.layers[:-1]), True
    elif isinstance(layer, Softmax):
        layer, probabilities = Pipeline(), True
    init, apply = _compile(layer, dims)
    if precision not in PRECISIONS:
        raise InvalidSignature(precision, f"unknown precision; saibench supports {', '.join(PRECISIONS)}")
    if precision != "float32":
        dtype, full = PRECISIONS[precision], apply

        def apply(params: Params, x: jax.Array) -> jax.Array:
            low = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
            return full(low, x.astype(dtype)).astype(jnp.float32)

    return CompiledModel(init, apply, probabilities)
