"""Channels-last convolution for ``Conv`` and ``ConvTranspose``, with gradients that stay
fast inside XLA:CPU loops.

Training runs as one compiled program (``lax.scan`` over steps and epochs). Inside such a
loop XLA:CPU computes a convolution's gradients 5-100 times slower than the same
gradients compiled alone (jax-ml/jax#12868: the weight gradient, and to a lesser degree
the input gradient, lose the fast convolution kernel); the forward convolution is not
affected. On the CPU backend ``convolve`` therefore keeps XLA's forward convolution and
gives it its own reverse-mode rule, written with what stays fast in a loop:

- the input gradient is a plain forward convolution of the output cotangent with the
  flipped, in/out-swapped kernel (the transpose JAX derives, with the kernel transposed
  explicitly instead of through dimension numbers);
- the weight gradient is one matrix product per kernel offset: the (dilated, padded)
  input's strided window at that offset against the output cotangent, contracted over the
  batch and spatial axes.

No convolution is handed a negative padding (a crop, as ``ConvTranspose``'s ``"SAME"``
asks): XLA:CPU's f32 convolution with a negative low padding reads outside its input
(openxla/xla#48713: uninitialised memory in the output, and in JAX's own gradients of
such a convolution). ``_convolution`` crops and dilates with ``lax.pad`` first instead.

Other backends (GPU, TPU) use ``lax.conv_general_dilated`` and its own gradients. The CPU
rule is reverse mode only (``jax.custom_vjp``): forward-mode derivatives (``jax.jvp``,
``jax.jacfwd``) of a CPU convolution are refused by JAX. ``benchmarks/conv_gradients.py``
measures the two side by side.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from ._layer import Array

SPATIAL = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}
Pads = tuple[tuple[int, int], ...]


def same_padding(lengths: Sequence[int], kernel: int, stride: int) -> Pads:
    """``"SAME"`` padding as XLA computes it: ``ceil(length / stride)`` outputs per axis,
    the padding they need split evenly, the odd one after."""
    pads = []
    for length in lengths:
        total = max((-(-length // stride) - 1) * stride + kernel - length, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def convolve(x: Array, w: Array, strides: tuple[int, ...], padding: Pads, lhs_dilation: tuple[int, ...] | None = None) -> Array:
    """``lax.conv_general_dilated(x, w, strides, padding, lhs_dilation)`` of a channels-last
    ``x`` (``(n, w, c)`` or ``(n, h, w, c)``) and a ``(*kernel, in, out)`` ``w``, with the
    CPU gradients described above."""
    import jax

    spatial = x.ndim - 2
    dilation = lhs_dilation or (1,) * spatial
    pads: Pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    if jax.default_backend() != "cpu":
        return _convolution(x, w, tuple(strides), pads, tuple(dilation))
    return _cpu_convolution()(x, w, tuple(strides), pads, tuple(dilation))


def _convolution(x: Array, w: Array, strides: tuple[int, ...], padding: Pads, dilation: tuple[int, ...]) -> Array:
    """``lax.conv_general_dilated`` with no negative padding: where any side crops, the
    input is dilated, padded and cropped by ``lax.pad`` and then convolved unpadded."""
    import jax

    numbers = SPATIAL[x.ndim - 2]
    if all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return jax.lax.conv_general_dilated(x, w, strides, padding, lhs_dilation=dilation, dimension_numbers=numbers)
    config = [(0, 0, 0), *((lo, hi, d - 1) for (lo, hi), d in zip(padding, dilation, strict=True)), (0, 0, 0)]
    seen = jax.lax.pad(x, jax.numpy.zeros((), x.dtype), config)
    return jax.lax.conv_general_dilated(seen, w, strides, ((0, 0),) * len(padding), dimension_numbers=numbers)


@functools.cache
def _cpu_convolution() -> Callable[..., Any]:
    import jax

    conv = jax.custom_vjp(_convolution, nondiff_argnums=(2, 3, 4))

    def forward_rule(x: Array, w: Array, strides: tuple[int, ...], padding: Pads, dilation: tuple[int, ...]) -> tuple[Array, Any]:
        return _convolution(x, w, strides, padding, dilation), (x, w)

    def backward_rule(strides: tuple[int, ...], padding: Pads, dilation: tuple[int, ...], saved: tuple[Array, Array],
                      g: Array) -> tuple[Array, Array]:
        x, w = saved
        return _input_gradient(x, w, g, strides, padding, dilation), _weight_gradient(x, w, g, strides, padding, dilation)

    conv.defvjp(forward_rule, backward_rule)
    return conv


def _input_gradient(x: Array, w: Array, g: Array, strides: tuple[int, ...], padding: Pads, dilation: tuple[int, ...]) -> Array:
    """The cotangent of ``x``: ``g`` convolved with the flipped kernel, its in and out
    axes swapped, strides and input dilation exchanged (as in JAX's own transpose rule)."""
    import jax.numpy as jnp

    spatial = x.ndim - 2
    kernel = w.shape[:spatial]
    pads = []
    for axis in range(spatial):
        dilated_in = (x.shape[1 + axis] - 1) * dilation[axis] + 1
        dilated_out = (g.shape[1 + axis] - 1) * strides[axis] + 1
        before = kernel[axis] - padding[axis][0] - 1
        pads.append((before, dilated_in + kernel[axis] - 1 - dilated_out - before))
    flipped = jnp.swapaxes(jnp.flip(w, tuple(range(spatial))), -1, -2)
    return _convolution(g, flipped, dilation, tuple(pads), strides).astype(x.dtype)


def _weight_gradient(x: Array, w: Array, g: Array, strides: tuple[int, ...], padding: Pads, dilation: tuple[int, ...]) -> Array:
    """The cotangent of ``w``: for each kernel offset, the input's window at that offset
    (dilated and padded as the forward pass sees it, every ``stride``-th position) times
    ``g``, summed over the batch and the output positions."""
    import itertools

    import jax
    import jax.numpy as jnp

    spatial = x.ndim - 2
    kernel = w.shape[:spatial]
    zero = jnp.zeros((), x.dtype)
    config = [(0, 0, 0), *((lo, hi, d - 1) for (lo, hi), d in zip(padding, dilation, strict=True)), (0, 0, 0)]
    seen = jax.lax.pad(x, zero, config)  # the input as the kernel slides over it
    out = g.shape[1:-1]
    rows = math.prod(g.shape[:-1])
    cotangent = g.reshape(rows, g.shape[-1])
    blocks = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        start = (0, *offset, 0)
        limit = (x.shape[0], *(a + (o - 1) * s + 1 for a, o, s in zip(offset, out, strides, strict=True)), x.shape[-1])
        window = jax.lax.slice(seen, start, limit, (1, *strides, 1))
        blocks.append(window.reshape(rows, x.shape[-1]).T @ cotangent)
    return jnp.stack(blocks).reshape(w.shape).astype(w.dtype)
