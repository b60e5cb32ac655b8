"""The layer protocol: one definition per layer, read by saibench's compiler and planner.

A layer is a frozen attrs value (its hyperparameters: widths, which may be symbolic dims
such as ``"k"``) with four methods. Two are pure Python, so that the planner sizes a model
without JAX; two are the pure JAX functions the compiler jits, importing ``jax`` lazily, so
that importing SAIL stays cheap::

    output_shape(shape, dims)      -> the shape of one output sample
    parameter_count(shape, dims)   -> how many numbers ``init`` makes
    init(key, shape, dims)         -> the parameters: a pytree of arrays
    apply(params, x, dims, *, key) -> the outputs of a batch ``x`` (batch axis first)

``shape`` is one input sample's shape (no batch axis), ``dims`` the plan's values of the
symbolic dims. ``key`` is a PRNG key while training and ``None`` at inference, so a layer
such as ``Dropout`` is random only when trained. A plugin adds a layer by subclassing
``Layer`` exactly as the built-ins do; ``output_shape`` and ``parameter_count`` default to
``jax.eval_shape`` of ``init`` and ``apply`` (the planner runs them in its plan-time child),
so ``init`` and ``apply`` alone are enough.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

Shape = tuple[int, ...]
Dims = Mapping[str, int]
Params = Any  # a pytree of arrays
Array = Any  # a jax.Array when called; typed loosely so that SAIL imports no JAX


@attrs.frozen
class Layer:
    """Base of every layer, built-in or a plugin's.

    Example (a plugin's layer: one learned scale per feature)::

        @attrs.frozen
        class Scale(Layer):
            def output_shape(self, shape: Shape, dims: Dims) -> Shape:
                return shape

            def parameter_count(self, shape: Shape, dims: Dims) -> int:
                return shape[-1]

            def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
                import jax.numpy as jnp
                return {"scale": jnp.ones(shape[-1:])}

            def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
                return x * params["scale"]
    """

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The shape of one output sample for one input sample of ``shape``.

        Args:
            shape: one input sample's shape, without the batch axis.
            dims: values of the symbolic dims (``{"k": 10}``).

        Returns:
            One output sample's shape. The default traces ``init`` and ``apply`` with
            ``jax.eval_shape`` (no arrays are computed).
        """
        _, out = _traced(self, shape, dims)
        return out

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """How many numbers the parameters hold, for inputs of ``shape`` (the planner
        checks they fit the hardware's memory).

        Returns:
            The count. The default traces ``init`` with ``jax.eval_shape``.
        """
        params, _ = _traced(self, shape, dims, apply=False)
        return params

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """Fresh parameters for inputs of ``shape``; ``()`` for a layer without any.

        Args:
            key: a JAX PRNG key (split it for several parameters).
            shape: one input sample's shape, without the batch axis.
            dims: values of the symbolic dims.

        Returns:
            A pytree of arrays (a dict, a tuple, ``()``).
        """
        return ()

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The outputs of a batch: a pure function of ``params`` and ``x``, jit-compiled.

        Args:
            params: what ``init`` returned (possibly trained, possibly cast to bfloat16).
            x: a batch, the batch axis first.
            dims: values of the symbolic dims.
            key: a PRNG key while training, ``None`` at inference (be deterministic then).

        Returns:
            The batch of outputs, the batch axis first.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define apply(self, params, x, dims, *, key=None); a layer subclasses "
            "sail_types.Layer and defines init (if it has parameters) and apply, e.g.\n"
            "    def apply(self, params, x, dims, *, key=None):\n        return x * params['scale']")


def split_key(key: Array | None, n: int) -> list[Array | None]:
    """``n`` independent keys from ``key`` for a composite's parts; ``n`` ``None`` at inference.

    Args:
        key: a PRNG key, or ``None`` (inference).
        n: how many keys.

    Returns:
        A list of ``n`` keys (or of ``n`` ``None``).
    """
    if key is None:
        return [None] * n
    import jax

    return list(jax.random.split(key, n))


def size(params: Params) -> int:
    """The number of numbers in a pytree of arrays (or of ``jax.ShapeDtypeStruct``)."""
    import jax

    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))


def _traced(layer: Layer, shape: Shape, dims: Dims, *, apply: bool = True) -> tuple[int, Shape]:
    """Parameter count and output sample shape of ``layer``, by ``jax.eval_shape``."""
    import jax
    import jax.numpy as jnp

    # the key is made inside the trace: nothing runs on a device (the plan-time child is a fork)
    params = jax.eval_shape(lambda: layer.init(jax.random.key(0), shape, dims))
    if not apply:
        return size(params), ()
    batch = jax.ShapeDtypeStruct((1, *shape), jnp.float32)  # type: ignore[no-untyped-call]
    out = jax.eval_shape(lambda p, x: layer.apply(p, x, dims), params, batch)
    return size(params), tuple(out.shape[1:])
