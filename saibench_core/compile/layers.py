"""Compilers for the spatial, normalisation and recurrent SAIL layers.

Each returns ``(init, apply)`` as ``nn._compile`` does; samples are channels-last, the
batch axis first in ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from sail_types import LSTM, AvgPool, Conv, LayerNorm, MaxPool, Recurrent, evaluate_dim

Params = Any
Shape = tuple[int, ...]
InitFn = Callable[[jax.Array, Shape], tuple[Params, Shape]]
ApplyFn = Callable[[Params, jax.Array], jax.Array]
Pair = tuple[InitFn, ApplyFn]

_SPATIAL = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}


def conv(layer: Conv, dims: Mapping[str, int]) -> Pair:
    features, kernel = evaluate_dim(layer.features, dims), evaluate_dim(layer.kernel, dims)

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        spatial = len(shape) - 1
        if spatial not in _SPATIAL:
            raise ValueError(f"Conv takes (w, c) or (h, w, c) samples, got shape {shape}")
        w = jax.nn.initializers.lecun_normal()(key, (kernel,) * spatial + (shape[-1], features), jnp.float32)
        return {"w": w, "b": jnp.zeros((features,), jnp.float32)}, layer.output_shape(shape, dims)

    def apply(params: Params, x: jax.Array) -> jax.Array:
        spatial = x.ndim - 2
        y = jax.lax.conv_general_dilated(x, params["w"].astype(x.dtype), (layer.stride,) * spatial, layer.padding,
                                         dimension_numbers=_SPATIAL[spatial])
        out: jax.Array = y + params["b"].astype(x.dtype)
        return out

    return init, apply


def pool(layer: MaxPool | AvgPool) -> Pair:
    window = layer.window

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        return (), layer.output_shape(shape)

    def apply(params: Params, x: jax.Array) -> jax.Array:
        dims = (1,) + (window,) * (x.ndim - 2) + (1,)
        if isinstance(layer, MaxPool):
            out: jax.Array = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, dims, dims, "VALID")
            return out
        total: jax.Array = jax.lax.reduce_window(x, 0.0, jax.lax.add, dims, dims, "VALID")
        mean: jax.Array = total / (window ** (x.ndim - 2))
        return mean

    return init, apply


def flatten() -> Pair:
    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        size = 1
        for s in shape:
            size *= s
        return (), (size,)

    return init, lambda params, x: x.reshape(x.shape[0], -1)


def layer_norm(layer: LayerNorm) -> Pair:
    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        return {"scale": jnp.ones(shape[-1:], jnp.float32), "shift": jnp.zeros(shape[-1:], jnp.float32)}, shape

    def apply(params: Params, x: jax.Array) -> jax.Array:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        out: jax.Array = (x - mean) * jax.lax.rsqrt(var + layer.epsilon) * params["scale"] + params["shift"]
        return out

    return init, apply


def recurrent(layer: Recurrent, dims: Mapping[str, int]) -> Pair:
    """LSTM gates (i, f, g, o) or GRU gates (r, z, n) from one input and one hidden matrix."""
    hidden, gates = evaluate_dim(layer.features, dims), layer.gates

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        if len(shape) != 2:
            raise ValueError(f"{type(layer).__name__} takes (t, d) samples, got shape {shape}")
        k1, k2 = jax.random.split(key)
        params = {
            "wx": jax.nn.initializers.lecun_normal()(k1, (shape[-1], gates * hidden), jnp.float32),
            "wh": jax.nn.initializers.orthogonal()(k2, (hidden, gates * hidden), jnp.float32),
            "b": jnp.zeros((gates * hidden,), jnp.float32),
        }
        return params, layer.output_shape(shape, dims)

    def lstm_cell(params: Params, carry: Any, x_t: jax.Array) -> tuple[Any, jax.Array]:
        h, c = carry
        i, f, g, o = jnp.split(x_t @ params["wx"] + h @ params["wh"] + params["b"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    def gru_cell(params: Params, h: jax.Array, x_t: jax.Array) -> tuple[jax.Array, jax.Array]:
        xr, xz, xn = jnp.split(x_t @ params["wx"] + params["b"], 3, axis=-1)
        hr, hz, hn = jnp.split(h @ params["wh"], 3, axis=-1)
        r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
        h = (1 - z) * jnp.tanh(xn + r * hn) + z * h
        return h, h

    def apply(params: Params, x: jax.Array) -> jax.Array:
        h0 = jnp.zeros((x.shape[0], hidden), x.dtype)
        if isinstance(layer, LSTM):
            _, hs = jax.lax.scan(lambda carry, x_t: lstm_cell(params, carry, x_t), (h0, h0), jnp.swapaxes(x, 0, 1))
        else:
            _, hs = jax.lax.scan(lambda h, x_t: gru_cell(params, h, x_t), h0, jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(hs, 0, 1) if layer.sequences else hs[-1]

    return init, apply
