"""Any JAX model under a SAIL signature: a pure ``(init, apply)`` pair, or an Equinox module.

Both are layers, so they also sit inside a ``Pipeline`` (``Pipeline(JaxModel(...),
Softmax())``); the planner sizes them by ``jax.eval_shape`` in its plan-time child and the
executor trains them with the same loop as every other model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import attrs

from ._layer import Array, Dims, Layer, Params, Shape, size

__all__ = ["Equinox", "JaxModel", "as_layer"]


@attrs.frozen(eq=False)
class JaxModel(Layer):
    """A model as two pure JAX functions::

        def init(key: jax.Array, shape: tuple[int, ...]) -> Params   # shape: one sample's
        def apply(params: Params, x: jax.Array) -> jax.Array        # x: a batch

        @model(task=Regress)
        def ridge_net(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
            return JaxModel(init=init, apply=apply)

    Args:
        init: fresh parameters (a pytree of float arrays) from a PRNG key, which the run's
            seed decides, for samples of ``shape``.
        apply: the outputs of a batch, the batch axis first; pure, so that it jits.
        random: ``apply`` takes a keyword ``key`` (a PRNG key while training, ``None`` at
            inference), for a model with dropout or noise.
    """

    init_fn: Callable[[Any, Shape], Any] = attrs.field(alias="init")
    apply_fn: Callable[..., Any] = attrs.field(alias="apply")
    random: bool = False

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``init(key, shape)``."""
        return self.init_fn(key, shape)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``apply(params, x)`` (``apply(params, x, key=key)`` when ``random``)."""
        return self.apply_fn(params, x, key=key) if self.random else self.apply_fn(params, x)


@attrs.frozen(eq=False)
class Equinox(Layer):
    """An ``equinox.Module`` mapping one sample to its output, as a layer: its floating-point
    arrays are the parameters (``eqx.partition(module, eqx.is_inexact_array)``), the rest is
    static, and it is ``vmap``-ed over the batch. A model may return the module itself;
    saibench wraps it. Its initial parameters are the module's own (made with the key the
    plugin gave it), so the run's seed varies only the order of the minibatches.

    Args:
        module: the module, e.g. ``eqx.nn.MLP(d, 1, 32, 2, key=jax.random.key(0))``.
    """

    module: Any

    def _split(self) -> tuple[Any, Any]:
        import equinox as eqx

        params, static = eqx.partition(self.module, eqx.is_inexact_array)
        return params, static

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The module's floating-point array elements."""
        return size(self._split()[0])

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The module's floating-point arrays (``None`` elsewhere in its tree)."""
        return self._split()[0]

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The module, rebuilt from ``params`` and its static part, on every sample."""
        import equinox as eqx
        import jax

        return jax.vmap(eqx.combine(params, self._split()[1]))(x)


def as_layer(value: object) -> Layer | None:
    """What a model factory returned, as a layer (an ``equinox.Module`` wrapped in
    ``Equinox``), or ``None`` when it is neither."""
    if isinstance(value, Layer):
        return value
    eqx = sys.modules.get("equinox")  # a module made by a plugin has imported equinox already
    if eqx is not None and isinstance(value, eqx.Module):
        return Equinox(value)
    return None
