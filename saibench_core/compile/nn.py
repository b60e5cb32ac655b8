"""Compile a model - any SAIL layer, a ``JaxModel``, an Equinox module - into pure JAX
``init``/``apply`` functions.

Each layer defines its own ``init`` and ``apply`` (``sail_types.Layer``): this module only
binds the plan's dims, fuses a trailing ``Softmax`` into the loss and casts for mixed
precision. Parameters are pytrees, so the compiled model composes with ``jax.jit``,
``jax.grad`` and optax. A trailing ``Softmax`` is left out of ``apply`` and reported in
``outputs_probabilities``: the loss fuses it with the log-likelihood
(``optax.softmax_cross_entropy_with_integer_labels``) for stability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import jax
import jax.numpy as jnp

from sail_types import Fitted, Layer, Pipeline, Softmax
from sail_types._models import as_layer

from ..errors import InvalidSignature

Params = Any
Shape = tuple[int, ...]
InitFn = Callable[[jax.Array, Shape], tuple[Params, Shape]]


class ApplyFn(Protocol):
    """``apply(params, batch, *, key=None) -> outputs``: ``key`` while training, else ``None``."""

    def __call__(self, params: Params, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array: ...


@attrs.frozen
class CompiledModel:
    """A model as pure functions: ``init(key, sample_shape) -> (params, out_shape)`` and
    ``apply(params, batch, *, key=None) -> outputs`` (logits when ``outputs_probabilities``;
    ``key`` is passed while training, so that dropout is active then and only then)."""

    init: InitFn
    apply: ApplyFn
    outputs_probabilities: bool


PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def _without_softmax(layer: Layer) -> tuple[Layer, bool]:
    if isinstance(layer, Pipeline) and layer.layers and isinstance(layer.layers[-1], Softmax):
        return Pipeline(*layer.layers[:-1]), True
    if isinstance(layer, Softmax):
        return Pipeline(), True
    return layer, False


def compile_model(model: Layer | Any, dims: Mapping[str, int], precision: str = "float32", *,
                  logits: bool = False) -> CompiledModel:
    """Compile what a model factory returned, symbolic widths bound from ``dims``.

    A classifier's outputs are logits: the cross-entropy loss reads them so, and its scores
    (what metrics such as ``ece`` read) are their softmax, whether the model ends in
    ``Softmax()`` (fused into the loss, left out of ``apply``) or not (``logits=True``: the
    task trains with cross-entropy). Without either, outputs are scores as they are.

    With ``precision="bfloat16"`` (mixed precision) parameters stay float32 - the optimizer
    updates them there - and are cast, with the inputs, for the forward pass; outputs come
    back as float32 so that losses and metrics are computed at full precision.

    Args:
        model: a ``sail_types.Layer`` (built-in, a plugin's, a ``JaxModel``) or an
            ``equinox.Module``.
        dims: values of the symbolic dims.
        precision: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        logits: the task's loss is cross-entropy, so outputs are logits (see above).

    Returns:
        The compiled model.

    Raises:
        InvalidSignature: ``model`` is none of those, or ``precision`` is unknown.

    Example:
        >>> from sail_types import Pipeline, Linear, Relu, Softmax
        >>> m = compile_model(Pipeline(Linear(8), Relu(), Linear("k"), Softmax()), {"k": 3})
        >>> params, out = m.init(jax.random.key(0), (5,))
        >>> out, m.outputs_probabilities
        ((3,), True)
    """
    found = as_layer(model)
    if isinstance(model, Fitted):
        raise InvalidSignature(repr(model)[:200], "the factory returned Fitted(...), so annotate the model "
                               "'-> Annotated[Fitted, ...]' (a method fitted without gradients takes no trainer)")
    if found is None:
        raise InvalidSignature(repr(model)[:200], "a model returns a SAIL layer (Pipeline(Linear(8), Relu(), ...), a "
                               "subclass of sail_types.Layer), sail_types.JaxModel(init=..., apply=...) or an equinox.Module")
    layer, ends_in_softmax = _without_softmax(found)
    probabilities = ends_in_softmax or logits
    if precision not in PRECISIONS:
        raise InvalidSignature(precision, f"unknown precision; saibench supports {', '.join(PRECISIONS)}")
    bound = dict(dims)

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        out = layer.output_shape(shape, bound)  # checks the shapes (a Residual's, a Concat's) before any array
        return layer.init(key, shape, bound), out

    def full(params: Params, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        y: jax.Array = layer.apply(params, x, bound, key=key)
        return y

    if precision == "float32":
        return CompiledModel(init, full, probabilities)
    dtype = PRECISIONS[precision]

    def low(params: Params, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        cast = jax.tree_util.tree_map(lambda p: p.astype(dtype), params)
        return full(cast, x.astype(dtype), key=key).astype(jnp.float32)

    return CompiledModel(init, low, probabilities)


def sample_output_shape(model: CompiledModel, sample_shape: Shape) -> Shape:
    """The shape of one sample's outputs, as ``apply`` computes it (traced by
    ``jax.eval_shape``: no parameter is initialised, nothing is computed)."""
    params = jax.eval_shape(lambda key: model.init(key, sample_shape)[0], jax.random.key(0))
    batch = jax.ShapeDtypeStruct((2, *sample_shape), jnp.float32)  # type: ignore[no-untyped-call]
    out = jax.eval_shape(lambda p, x: model.apply(p, x), params, batch)
    return tuple(out.shape[1:])
