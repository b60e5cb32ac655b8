"""``sail_types._conv.convolve``: on the CPU its reverse-mode rule (a plain convolution for
the input, one matrix product per kernel offset for the weights) gives the gradients JAX
derives for ``lax.conv_general_dilated``, for any rank, kernel, stride, padding and input
dilation - also inside ``lax.scan``, where it exists to be fast, and under second-order
differentiation (a force-matching loss differentiates a gradient again).

The reference is no XLA convolution: it is the sum, over kernel offsets, of the padded and
dilated input's strided window times that offset's kernel matrix, differentiated by JAX
through pad, slice and matrix products. (JAX's gradients of ``conv_general_dilated`` with
a negative low padding are wrong on XLA:CPU, openxla/xla#48713; a crop here is ``lax.pad``'s.)"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sail_types._conv import convolve, same_padding


def _reference(x: jax.Array, w: jax.Array, strides: tuple[int, ...], pads: tuple[tuple[int, int], ...],
               dilation: tuple[int, ...]) -> jax.Array:
    """Convolution as shift-and-add: no convolution primitive anywhere."""
    spatial = x.ndim - 2
    kernel = w.shape[:spatial]
    seen = jax.lax.pad(x, jnp.zeros((), x.dtype), [(0, 0, 0), *((lo, hi, d - 1) for (lo, hi), d in zip(pads, dilation)), (0, 0, 0)])
    out = tuple((n - k) // s + 1 for n, k, s in zip(seen.shape[1:-1], kernel, strides))
    total = jnp.zeros((x.shape[0], *out, w.shape[-1]), x.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        limit = (x.shape[0], *(o + (n - 1) * s + 1 for o, n, s in zip(offset, out, strides)), x.shape[-1])
        window = jax.lax.slice(seen, (0, *offset, 0), limit, (1, *strides, 1))
        total = total + window @ w[offset]
    return total


def _case(kernel: int, length: int, pads: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...]]:
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, length, 2)).astype(np.float32), rng.normal(size=(kernel, 2, 3)).astype(np.float32)
    return x, w, (1,), pads, (1,)


@st.composite
def convolutions(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...]]:
    spatial = draw(st.sampled_from([1, 2]))
    kernel = draw(st.integers(1, 4))
    stride = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    lengths = tuple(draw(st.integers(kernel, 9)) for _ in range(spatial))
    channels, features, batch = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    style = draw(st.sampled_from(["same", "valid", "explicit"]))
    if style == "same":
        pads = same_padding(tuple((n - 1) * dilation + 1 for n in lengths), kernel, stride)
    elif style == "valid":
        pads = ((0, 0),) * spatial
    else:  # negative padding crops, as ConvTranspose's "SAME" does
        pads = tuple((draw(st.integers(-1, kernel)), draw(st.integers(-1, kernel))) for _ in range(spatial))
    if any((n - 1) * dilation + 1 + lo + hi < kernel for n, (lo, hi) in zip(lengths, pads, strict=True)):
        pads = ((kernel, kernel),) * spatial  # no output position otherwise
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.normal(size=(batch, *lengths, channels)).astype(np.float32)
    w = rng.normal(size=(kernel,) * spatial + (channels, features)).astype(np.float32)
    return x, w, (stride,) * spatial, pads, (dilation,) * spatial


@settings(max_examples=60, deadline=None)
@given(convolutions())
@example(_case(2, 9, ((-1, 1),)))  # a crop then a pad no wider: XLA:CPU reads outside the input (openxla/xla#48713)
@example(_case(3, 6, ((3, 3),)))  # the input gradient's own padding is negative on the low side
def test_values_and_gradients_are_jaxs(case: tuple[np.ndarray, np.ndarray, tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...]]) -> None:
    x, w, strides, pads, dilation = case
    ours, theirs = convolve(x, w, strides, pads, dilation), _reference(x, w, strides, pads, dilation)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    probe = np.random.default_rng(1).normal(size=theirs.shape).astype(np.float32)

    def loss(fn):  # type: ignore[no-untyped-def]
        return lambda x, w: jnp.sum(fn(x, w, strides, pads, dilation) * probe)

    for mine, reference in zip(jax.grad(loss(convolve), (0, 1))(x, w), jax.grad(loss(_reference), (0, 1))(x, w), strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-4)


def test_gradients_inside_scan_and_of_a_gradient() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    pads = same_padding((8, 8), 3, 1)

    def energy(fn):  # type: ignore[no-untyped-def]
        return lambda x, w: jnp.sum(jnp.tanh(fn(x, w, (1, 1), pads, (1, 1))) ** 2)

    def trained(fn):  # type: ignore[no-untyped-def]
        def step(w: jax.Array, _: None) -> tuple[jax.Array, None]:
            return w - 0.01 * jax.grad(energy(fn), 1)(x, w), None
        return jax.jit(lambda w: jax.lax.scan(step, w, None, length=3)[0])(w)

    np.testing.assert_allclose(trained(convolve), trained(_reference), rtol=1e-4, atol=1e-5)

    def force_loss(fn):  # type: ignore[no-untyped-def]  # d/dw of |dE/dx|², reverse over reverse
        return lambda w: jnp.sum(jax.grad(energy(fn), 0)(x, w) ** 2)

    np.testing.assert_allclose(jax.grad(force_loss(convolve))(w), jax.grad(force_loss(_reference))(w), rtol=1e-3, atol=1e-3)
