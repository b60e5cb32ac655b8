"""Layers over the spatial axes of ``(w, c)`` or ``(h, w, c)`` samples, channels last."""

from __future__ import annotations

import attrs

from ._conv import SPATIAL, convolve, same_padding
from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape
from ._nn import _Parameterless, _ScaleShift
from ._types import Dim, _check_dim, evaluate_dim

__all__ = ["AvgPool", "Conv", "ConvTranspose", "GroupNorm", "MaxPool", "Upsample"]

_PADDING = attrs.validators.in_(("SAME", "VALID"))


def _spatial(layer: Layer, shape: Shape) -> int:
    if len(shape) - 1 not in SPATIAL:
        raise InvalidSignature(repr(layer), f"takes (w, c) or (h, w, c) samples, got shape {shape}")
    return len(shape) - 1


@attrs.frozen
class Conv(Layer):
    """Convolution over the spatial axes: ``features`` output channels, a square ``kernel``,
    ``"SAME"`` or ``"VALID"`` padding."""

    features: Dim = attrs.field(converter=_check_dim)
    kernel: Dim = attrs.field(converter=_check_dim)
    stride: int = 1
    padding: str = attrs.field(default="SAME", validator=_PADDING)

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """Spatial axes divided by the stride (``SAME``) or shrunk by the kernel (``VALID``)."""
        _spatial(self, shape)
        kernel = evaluate_dim(self.kernel, dims)
        spatial = tuple(-(-s // self.stride) if self.padding == "SAME" else (s - kernel) // self.stride + 1 for s in shape[:-1])
        return spatial + (evaluate_dim(self.features, dims),)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """A ``kernel^spatial x in x features`` kernel and ``features`` biases."""
        kernel, features = evaluate_dim(self.kernel, dims), evaluate_dim(self.features, dims)
        return int(kernel ** (len(shape) - 1)) * shape[-1] * features + features

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"w": (*kernel, in, features), "b": (features,)}``, LeCun-normal weights."""
        import jax
        import jax.numpy as jnp

        spatial, features = _spatial(self, shape), evaluate_dim(self.features, dims)
        w_shape = (evaluate_dim(self.kernel, dims),) * spatial + (shape[-1], features)
        return {"w": jax.nn.initializers.lecun_normal()(key, w_shape, jnp.float32), "b": jnp.zeros((features,), jnp.float32)}

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The convolution plus bias (a cross-correlation, as in every deep-learning library)."""
        w = params["w"].astype(x.dtype)
        spatial = x.ndim - 2
        pads = same_padding(x.shape[1:-1], w.shape[0], self.stride) if self.padding == "SAME" else ((0, 0),) * spatial
        return convolve(x, w, (self.stride,) * spatial, pads) + params["b"].astype(x.dtype)


@attrs.frozen
class ConvTranspose(Layer):
    """Transposed convolution (Dumoulin and Visin, 2016): each input position adds its
    ``kernel``-wide patch ``x[i] @ w[a]`` at output position ``i * stride + a``. With
    ``"VALID"`` padding the output has ``(s - 1) * stride + kernel`` positions per axis; with
    ``"SAME"`` it has ``s * stride``, cropped evenly from that. ``ConvTranspose(c, 2,
    stride=2)`` doubles the resolution (a U-Net's up-sampling)."""

    features: Dim = attrs.field(converter=_check_dim)
    kernel: Dim = attrs.field(converter=_check_dim)
    stride: int = 1
    padding: str = attrs.field(default="SAME", validator=_PADDING)

    def _lengths(self, s: int, kernel: int) -> tuple[int, int]:
        """``(output length, positions cropped before it)`` of one axis of length ``s``."""
        if self.padding == "VALID":
            return (s - 1) * self.stride + kernel, 0
        return s * self.stride, max(kernel - self.stride, 0) // 2

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """Spatial axes times the stride (``SAME``), or grown by the kernel (``VALID``)."""
        _spatial(self, shape)
        kernel = evaluate_dim(self.kernel, dims)
        return tuple(self._lengths(s, kernel)[0] for s in shape[:-1]) + (evaluate_dim(self.features, dims),)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """A ``kernel^spatial x in x features`` kernel and ``features`` biases: a ``Conv``'s."""
        return Conv(self.features, self.kernel).parameter_count(shape, dims)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"w": (*kernel, in, features), "b": (features,)}``, LeCun-normal weights."""
        return Conv(self.features, self.kernel).init(key, shape, dims)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """An input-dilated convolution with the flipped kernel, which is the scatter-add above."""
        w = params["w"].astype(x.dtype)
        spatial, kernel = x.ndim - 2, w.shape[0]
        pads = []
        for s in x.shape[1:-1]:
            length, crop = self._lengths(s, kernel)
            before = kernel - 1 - crop
            pads.append((before, length + kernel - 1 - ((s - 1) * self.stride + 1) - before))
        flipped = w[(slice(None, None, -1),) * spatial]
        y = convolve(x, flipped, (1,) * spatial, tuple(pads), lhs_dilation=(self.stride,) * spatial)
        return y + params["b"].astype(x.dtype)


@attrs.frozen
class _Pool(_Parameterless):
    window: int = 2

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """Spatial axes divided by the window, channels kept."""
        _spatial(self, shape)
        return tuple(s // self.window for s in shape[:-1]) + shape[-1:]


@attrs.frozen
class MaxPool(_Pool):
    """Maximum over non-overlapping ``window``-wide patches of the spatial axes."""

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The maximum of each patch."""
        import jax
        import jax.numpy as jnp

        window = (1,) + (self.window,) * (x.ndim - 2) + (1,)
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, window, window, "VALID")


@attrs.frozen
class AvgPool(_Pool):
    """Mean over non-overlapping ``window``-wide patches of the spatial axes."""

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The mean of each patch."""
        import jax

        window = (1,) + (self.window,) * (x.ndim - 2) + (1,)
        total = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, window, "VALID")
        return total / (self.window ** (x.ndim - 2))


@attrs.frozen
class Upsample(_Parameterless):
    """Nearest-neighbour up-sampling: each position repeated ``factor`` times on every
    spatial axis (parameter-free; follow it with a ``Conv`` to learn the up-sampling)."""

    factor: int = 2

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """Spatial axes times the factor."""
        _spatial(self, shape)
        return tuple(s * self.factor for s in shape[:-1]) + shape[-1:]

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """Every spatial axis repeated."""
        for axis in range(1, x.ndim - 1):
            x = x.repeat(self.factor, axis=axis)
        return x


@attrs.frozen
class GroupNorm(_ScaleShift):
    """Normalise each sample over its spatial axes and ``groups`` groups of channels, then a
    learned scale and shift per channel (Wu and He, 2018): batch-independent, stateless."""

    groups: Dim = attrs.field(converter=_check_dim)
    epsilon: float = 1e-5

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape; its channels must divide into the groups."""
        groups = evaluate_dim(self.groups, dims)
        if shape[-1] % groups:
            raise InvalidSignature(repr(self), f"{shape[-1]} channels do not divide into {groups} groups")
        return shape

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """Each group standardised over its spatial positions and channels."""
        import jax

        groups = evaluate_dim(self.groups, dims)
        grouped = x.reshape(x.shape[:-1] + (groups, x.shape[-1] // groups))
        axes = tuple(range(1, x.ndim - 1)) + (x.ndim,)
        mean = grouped.mean(axes, keepdims=True)
        var = ((grouped - mean) ** 2).mean(axes, keepdims=True)
        normal = ((grouped - mean) * jax.lax.rsqrt(var + self.epsilon)).reshape(x.shape)
        return normal * params["scale"] + params["shift"]
