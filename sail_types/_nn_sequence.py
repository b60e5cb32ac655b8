"""Layers over ``(t, d)`` sequences: recurrent cells, self-attention, a Transformer block."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape
from ._nn import Dropout, Gelu, LayerNorm, Linear, _Parameterless
from ._nn_compose import Pipeline, Residual
from ._types import Dim, _check_dim, evaluate_dim

__all__ = ["GRU", "LSTM", "PositionalEncoding", "Recurrent", "SelfAttention", "TransformerEncoder"]


def _sequence(layer: Layer, shape: Shape) -> None:
    if len(shape) != 2:
        raise InvalidSignature(repr(layer), f"takes (t, d) samples, got shape {shape}")


@attrs.frozen
class Recurrent(Layer):
    """A recurrent layer over ``(t, d)`` samples with ``features`` hidden units; the last
    hidden state, or every step's with ``sequences=True``."""

    features: Dim = attrs.field(converter=_check_dim)
    sequences: bool = False
    gates: ClassVar[int] = 0

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """``(t, hidden)`` with ``sequences``, else ``(hidden,)``."""
        _sequence(self, shape)
        hidden = evaluate_dim(self.features, dims)
        return (shape[0], hidden) if self.sequences else (hidden,)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """Input and hidden weights and a bias for every gate."""
        hidden = evaluate_dim(self.features, dims)
        return self.gates * hidden * (shape[-1] + hidden + 1)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"wx": (d, gates*h) LeCun-normal, "wh": (h, gates*h) orthogonal, "b": zeros}``."""
        import jax
        import jax.numpy as jnp

        _sequence(self, shape)
        hidden, k1, k2 = evaluate_dim(self.features, dims), *jax.random.split(key)
        return {
            "wx": jax.nn.initializers.lecun_normal()(k1, (shape[-1], self.gates * hidden), jnp.float32),
            "wh": jax.nn.initializers.orthogonal()(k2, (hidden, self.gates * hidden), jnp.float32),
            "b": jnp.zeros((self.gates * hidden,), jnp.float32),
        }

    def cell(self, params: Params, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """One step: ``(carry, x_t) -> (carry, h_t)``."""
        raise NotImplementedError

    def start(self, h0: Array) -> Any:
        """The carry before the first step, from zero hidden state ``h0``."""
        return h0

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The cell scanned over the steps."""
        import jax
        import jax.numpy as jnp

        h0 = jnp.zeros((x.shape[0], params["wh"].shape[0]), x.dtype)
        _, hs = jax.lax.scan(lambda carry, x_t: self.cell(params, carry, x_t), self.start(h0), jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(hs, 0, 1) if self.sequences else hs[-1]


@attrs.frozen
class LSTM(Recurrent):
    """A long short-term memory layer (Hochreiter and Schmidhuber, 1997; gates: input,
    forget, cell, output)."""

    gates: ClassVar[int] = 4

    def start(self, h0: Array) -> Any:
        """Zero hidden and cell states."""
        return h0, h0

    def cell(self, params: Params, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """``c = σ(f) c + σ(i) tanh(g)``, ``h = σ(o) tanh(c)``."""
        import jax
        import jax.numpy as jnp

        h, c = carry
        i, f, g, o = jnp.split(x_t @ params["wx"] + h @ params["wh"] + params["b"], 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h


@attrs.frozen
class GRU(Recurrent):
    """A gated recurrent unit layer (Cho et al., 2014; gates: reset, update, new)."""

    gates: ClassVar[int] = 3

    def cell(self, params: Params, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """``h = (1 - z) tanh(xn + r hn) + z h``."""
        import jax
        import jax.numpy as jnp

        xr, xz, xn = jnp.split(x_t @ params["wx"] + params["b"], 3, axis=-1)
        hr, hz, hn = jnp.split(carry @ params["wh"], 3, axis=-1)
        r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
        h = (1 - z) * jnp.tanh(xn + r * hn) + z * carry
        return h, h


@attrs.frozen
class SelfAttention(Layer):
    """Multi-head scaled dot-product self-attention over the steps of ``(t, d)`` samples
    (Vaswani et al., 2017): ``heads`` heads of ``d / heads`` features each, query, key,
    value and output projections with biases; ``causal`` lets step ``i`` see steps ``≤ i`` only."""

    heads: Dim = attrs.field(converter=_check_dim)
    causal: bool = False

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape; ``d`` must divide into the heads."""
        _sequence(self, shape)
        heads = evaluate_dim(self.heads, dims)
        if shape[-1] % heads:
            raise InvalidSignature(repr(self), f"{shape[-1]} features do not divide into {heads} heads")
        return shape

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """Four ``d x d`` projections and their biases: ``init``'s four ``Linear(d)``."""
        return 4 * Linear(shape[-1]).parameter_count(shape, dims)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"q", "k", "v", "o"}``, each a ``Linear(d)``'s ``{"w", "b"}``."""
        import jax

        self.output_shape(shape, dims)
        return {name: Linear(shape[-1]).init(k, shape, dims) for name, k in zip("qkvo", jax.random.split(key, 4))}

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``softmax(q kᵀ / √(d/heads)) v`` per head, heads joined, then the output projection."""
        import jax
        import jax.numpy as jnp

        n, t, d = x.shape
        heads = evaluate_dim(self.heads, dims)

        def project(name: str) -> Array:
            return (x @ params[name]["w"] + params[name]["b"]).reshape(n, t, heads, d // heads)

        scores = jnp.einsum("nqhf,nkhf->nhqk", project("q"), project("k")) / jnp.sqrt(d // heads).astype(x.dtype)
        if self.causal:
            scores = jnp.where(jnp.tril(jnp.ones((t, t), bool)), scores, -jnp.inf)
        mixed = jnp.einsum("nhqk,nkhf->nqhf", jax.nn.softmax(scores, axis=-1), project("v")).reshape(n, t, d)
        return mixed @ params["o"]["w"] + params["o"]["b"]


@attrs.frozen
class TransformerEncoder(Layer):
    """One pre-norm Transformer encoder block over ``(t, d)`` samples (Vaswani et al., 2017;
    pre-norm as Xiong et al., 2020): ``x + Dropout(SelfAttention(LayerNorm(x)))``, then
    ``x + Dropout(Linear(d)(Gelu(Linear(hidden)(LayerNorm(x)))))``. Stack blocks in a
    ``Pipeline``; add ``PositionalEncoding()`` first when the order of the steps matters."""

    heads: Dim = attrs.field(converter=_check_dim)
    hidden: Dim = attrs.field(converter=_check_dim)
    dropout: float = 0.0
    causal: bool = False

    def block(self, d: int) -> Layer:
        """The block as built-in layers, for ``d`` input features: its single definition."""
        attend = Residual(Pipeline(LayerNorm(), SelfAttention(self.heads, self.causal), Dropout(self.dropout)))
        mlp = Residual(Pipeline(LayerNorm(), Linear(self.hidden), Gelu(), Linear(d), Dropout(self.dropout)))
        return Pipeline(attend, mlp)

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape."""
        _sequence(self, shape)
        return self.block(shape[-1]).output_shape(shape, dims)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The block's."""
        return self.block(shape[-1]).parameter_count(shape, dims)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The block's: ``((ln, attention, ()), (ln, linear, (), linear, ()))``."""
        _sequence(self, shape)
        return self.block(shape[-1]).init(key, shape, dims)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The block's."""
        return self.block(x.shape[-1]).apply(params, x, dims, key=key)


@attrs.frozen
class PositionalEncoding(_Parameterless):
    """Adds the sinusoidal position code of Vaswani et al. (2017) to ``(t, d)`` samples:
    feature ``i`` of step ``p`` gains ``sin`` (even ``i``) or ``cos`` (odd ``i``) of
    ``p / 10000^(2⌊i/2⌋/d)``. Parameter-free."""

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape."""
        _sequence(self, shape)
        return shape

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``x`` plus the code."""
        import jax.numpy as jnp

        t, d = x.shape[1:]
        i = jnp.arange(d)
        angle = jnp.arange(t)[:, None] / jnp.power(10000.0, (2 * (i // 2)) / d)[None, :]
        return x + jnp.where(i % 2 == 0, jnp.sin(angle), jnp.cos(angle)).astype(x.dtype)
