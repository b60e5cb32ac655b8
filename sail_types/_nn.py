"""Dense, activation and per-feature layers. saibench compiles them to pure JAX.

Widths may be symbolic dims (``Linear("k")``), bound by the planner from the problem. Each
layer defines its own shapes, parameters and forward pass (see ``_layer.Layer``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import attrs

from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape
from ._types import Dim, _check_dim, evaluate_dim

__all__ = ["Dropout", "Flatten", "Gelu", "Identity", "Layer", "LayerNorm", "Linear", "Relu", "Slice", "Softmax",
           "Tanh"]


@attrs.frozen
class Linear(Layer):
    """Affine map to ``features`` outputs on the last axis (LeCun-normal weights, zero bias)."""

    features: Dim = attrs.field(converter=_check_dim)
    bias: bool = True

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The last axis becomes ``features``."""
        return shape[:-1] + (evaluate_dim(self.features, dims),)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """``fan_in * features`` weights, plus ``features`` biases."""
        features = evaluate_dim(self.features, dims)
        fan_in = shape[-1] if shape else 1
        return fan_in * features + (features if self.bias else 0)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"w": (fan_in, features), "b": (features,)}``."""
        import jax
        import jax.numpy as jnp

        features = evaluate_dim(self.features, dims)
        w = jax.nn.initializers.lecun_normal()(key, (shape[-1], features), jnp.float32)
        return {"w": w, "b": jnp.zeros((features,), jnp.float32)} if self.bias else {"w": w}

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``x @ w + b``."""
        y = x @ params["w"]
        return y + params["b"] if self.bias else y


@attrs.frozen
class _Parameterless(Layer):
    """A layer without parameters (a base of the built-ins only: a plugin's layer is sized
    by tracing its ``init`` unless it says otherwise)."""

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """None."""
        return 0


@attrs.frozen
class _ScaleShift(Layer):
    """A learned scale and shift per feature of the last axis, after a normalisation."""

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """A scale and a shift per feature (channel)."""
        return 2 * shape[-1]

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"scale": ones, "shift": zeros}`` over the last axis, once ``shape`` is checked."""
        import jax.numpy as jnp

        self.output_shape(shape, dims)
        return {"scale": jnp.ones(shape[-1:], jnp.float32), "shift": jnp.zeros(shape[-1:], jnp.float32)}


@attrs.frozen
class _Activation(_Parameterless):
    """An elementwise function without parameters."""

    function: ClassVar[str] = ""

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape."""
        return shape

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The activation, elementwise (softmax: over the last axis)."""
        return _activations()[self.function](x)


def _activations() -> dict[str, Callable[[Array], Array]]:
    import jax
    import jax.numpy as jnp

    return {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu,
            "softmax": lambda x: jax.nn.softmax(x, axis=-1)}


@attrs.frozen
class Relu(_Activation):
    """Rectified linear unit."""

    function: ClassVar[str] = "relu"


@attrs.frozen
class Tanh(_Activation):
    """Hyperbolic tangent."""

    function: ClassVar[str] = "tanh"


@attrs.frozen
class Gelu(_Activation):
    """Gaussian error linear unit (Hendrycks and Gimpel, 2016; tanh approximation)."""

    function: ClassVar[str] = "gelu"


@attrs.frozen
class Softmax(_Activation):
    """Softmax over the last axis. Trailing, it is fused into the cross-entropy loss."""

    function: ClassVar[str] = "softmax"


@attrs.frozen
class Identity(_Activation):
    """The input, unchanged: the skip branch of a ``Concat`` (as in a U-Net)."""

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``x``."""
        return x


@attrs.frozen
class Flatten(_Parameterless):
    """All axes of a sample into one."""

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """``(prod(shape),)``."""
        return (math.prod(shape),)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """Each sample reshaped to one axis."""
        return x.reshape(x.shape[0], -1)


@attrs.frozen
class LayerNorm(_ScaleShift):
    """Normalise the last axis to zero mean and unit variance, then a learned scale and
    shift (Ba et al., 2016)."""

    epsilon: float = 1e-5

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape."""
        return shape

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``(x - mean) / sqrt(var + epsilon) * scale + shift`` over the last axis."""
        import jax

        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * params["scale"] + params["shift"]


@attrs.frozen
class Dropout(_Parameterless):
    """Zero each value with probability ``rate`` while training, scaling the kept ones by
    ``1 / (1 - rate)`` (Srivastava et al., 2014); the identity at inference."""

    rate: float = attrs.field(default=0.1, validator=[attrs.validators.ge(0.0), attrs.validators.lt(1.0)])

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape."""
        return shape

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``x`` at inference (``key is None``); a random mask of ``x`` while training."""
        if key is None or self.rate == 0.0:
            return x
        import jax
        import jax.numpy as jnp

        keep = jax.random.bernoulli(key, 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))


@attrs.frozen
class Slice(_Parameterless):
    """Part of one sample axis: ``Slice(-1)`` is the last step of a ``(t, d)`` sequence (the
    axis dropped), ``Slice(0, 3, axis=-1)`` its first three channels (the axis kept).

    Args:
        start: the index taken, or the first one kept when ``stop`` is given.
        stop: one past the last index kept; ``None`` takes ``start`` alone and drops the axis.
        axis: an axis of one sample (``0``: the first after the batch; ``-1``: the last).
    """

    start: int
    stop: int | None = None
    axis: int = 0

    def _axis(self, shape: Shape) -> int:
        if not -len(shape) <= self.axis < len(shape):
            raise InvalidSignature(repr(self), f"axis {self.axis} is out of range for samples of shape {shape}")
        return self.axis % len(shape)

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """``shape`` without the axis, or with its kept length."""
        axis = self._axis(shape)
        if self.stop is None:
            if not -shape[axis] <= self.start < shape[axis]:
                raise InvalidSignature(repr(self), f"index {self.start} is out of range for axis {self.axis} of {shape}")
            return shape[:axis] + shape[axis + 1:]
        kept = len(range(shape[axis])[self.start:self.stop])
        if kept == 0:
            raise InvalidSignature(repr(self), f"keeps nothing of axis {self.axis} of samples of shape {shape}")
        return shape[:axis] + (kept,) + shape[axis + 1:]

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The slice of every sample."""
        axis = self._axis(tuple(x.shape[1:])) + 1
        index = self.start if self.stop is None else slice(self.start, self.stop)
        return x[(slice(None),) * axis + (index,)]
