"""A run's converter chain as part of its model, so that derivatives with respect to the
problem's own input (forces: ``-∂E/∂positions``) are taken through the converters.

Without gradients a run converts its fixtures once, before training. A problem that
declares ``Gradient`` targets needs the derivative of the model's output with respect to
its *unconverted* input, so the converters are applied inside the compiled program: each
must then be written with ``jax.numpy`` (``symmetry_functions`` is), and one that is not
is named with the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ..compile.nn import CompiledModel, Params, Shape
from ..discovery import Catalog
from ..errors import UsageError
from ..planner import Fill


def chain_function(catalog: Catalog, chain: Sequence[str], fills: Sequence[Fill]) -> Callable[[Any], Any]:
    """``x -> converted x``: ``chain``'s converters in order, then the fills' element chain
    on every set element (as ``pod.per_element`` does with NumPy)."""
    from ..execute.pod import element_chain

    functions = [catalog.require("converter", name).fn for name in chain]
    element = [catalog.require("converter", name).fn for name in element_chain(fills)]

    def convert(x: Any) -> Any:
        for fn in functions:
            x = fn(x)
        if element:
            x = jnp.asarray(x)
            flat = x.reshape((-1, *x.shape[2:]))
            for fn in element:
                flat = fn(flat)
            x = jnp.asarray(flat).reshape(x.shape[:2] + jnp.shape(flat)[1:])
        return jnp.asarray(x, dtype=jnp.float32)

    return convert


def traceable(convert: Callable[[Any], Any], chain: Sequence[str], x: Any, why: str) -> Shape:
    """The shape of one converted sample, checking that the chain traces with JAX.

    Raises:
        UsageError: a converter is not written with ``jax.numpy``.
    """
    try:
        out = jax.eval_shape(convert, jax.ShapeDtypeStruct((2, *x.shape[1:]), jnp.float32))  # type: ignore[no-untyped-call]
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            TypeError) as exc:
        raise UsageError(f"converter chain {'→'.join(chain)} is not written with jax.numpy, but {why} needs derivatives "
                         f"taken through it ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); write the converter with "
                         "jax.numpy (jnp.asarray, jnp.where, ...) instead of NumPy") from None
    return tuple(out.shape[1:])


def chained(model: CompiledModel, convert: Callable[[Any], Any], converted_shape: Callable[[Shape], Shape]) -> CompiledModel:
    """``model`` taking the problem's own inputs: ``apply(params, x) = model.apply(params,
    convert(x))``, initialised for the converted shape."""

    def init(key: jax.Array, shape: Shape) -> tuple[Params, Shape]:
        return model.init(key, converted_shape(shape))

    def apply(params: Params, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        return model.apply(params, convert(x), key=key)

    return CompiledModel(init, apply, model.outputs_probabilities)
