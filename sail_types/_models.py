"""Any JAX model under a SAIL signature: a pure ``(init, apply)`` pair, an Equinox module or a
Flax module (linen or nnx).

All are layers, so they also sit inside a ``Pipeline`` (``Pipeline(JaxModel(...),
Softmax())``); the planner sizes them by ``jax.eval_shape`` in its plan-time child and the
executor trains them with the same loop as every other model. Equinox and Flax are optional
extras, imported only when a model uses them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import attrs

from ._callables import takes_keyword
from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape, size

__all__ = ["Equinox", "Flax", "JaxModel", "as_layer"]


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


def _callable(layer: str, builder: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if not callable(value):
            raise InvalidSignature(f"{layer}({_short(value)})", f"{layer} takes a module or a builder ({builder}), "
                                   f"not a {type(value).__name__}")

    return check


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _typed_key(key: Any) -> Any:
    """``key`` as a typed PRNG key (flax's RNG state holds typed keys)."""
    import jax
    import jax.numpy as jnp

    return key if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(key)


@attrs.frozen(eq=False)
class Equinox(Layer):
    """An ``equinox.Module`` mapping one sample to its output, as a layer: its floating-point
    arrays are the parameters (``eqx.partition(module, eqx.is_inexact_array)``), the rest is
    static, and it is ``vmap``-ed over the batch.

    Prefer the builder form, ``Equinox(lambda key: eqx.nn.MLP(d, 1, 32, 2, key=key))``: the
    module is built with the run's key, so ``--repeat N --vary seed`` varies the initial
    weights. Its static part comes from a build with a fixed key (traced, not run), and each
    run's build must have the same structure; it may hold no integer or other non-float
    arrays (they would be neither trained nor kept). A module itself (``Equinox(module)``, or
    the bare module a model returns, which saibench wraps) keeps the weights its plugin's key
    made: the run's seed then varies only the order of the minibatches.

    A module whose ``__call__`` takes a keyword ``key`` (``eqx.nn.MLP``, a module with
    ``eqx.nn.Dropout``) gets one fresh key per sample while training, and runs under
    ``eqx.nn.inference_mode`` with ``key=None`` at inference; any other is called on the
    sample alone.

    Args:
        module: a builder ``key -> equinox.Module``, or the module itself.
    """

    module: Any = attrs.field(validator=_callable("Equinox", "lambda key: eqx.nn.MLP(d, 1, 32, 2, key=key)"))
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    def _is_builder(self) -> bool:
        import equinox as eqx

        return not isinstance(self.module, eqx.Module)

    def _split(self) -> tuple[Any, Any]:
        """``(parameters, static part)``: concrete for a module, abstract (shapes) for a builder."""
        import equinox as eqx
        import jax

        if not self._is_builder():
            params, static = eqx.partition(self.module, eqx.is_inexact_array)
            return params, static
        if "template" not in self._cache:
            built = eqx.filter_eval_shape(self.module, jax.random.key(0))
            if not isinstance(built, eqx.Module):
                raise InvalidSignature(f"Equinox({_short(self.module)})", "the builder returned a "
                                       f"{type(built).__name__}, not an equinox.Module; write Equinox(lambda key: "
                                       "eqx.nn.MLP(d, 1, 32, 2, key=key))")
            params, static = eqx.partition(built, _is_float_shape)
            others = [leaf for leaf in jax.tree_util.tree_leaves(static) if isinstance(leaf, jax.ShapeDtypeStruct)]
            if others:
                raise InvalidSignature(f"Equinox({_short(self.module)})", "the built module holds non-float arrays "
                                       f"({', '.join(str(a.dtype) for a in others[:3])}), which are not trained and "
                                       "which the builder form cannot keep; make them Python values, or pass the "
                                       "module itself: Equinox(module)")
            self._cache["template"] = params, static
        found: tuple[Any, Any] = self._cache["template"]
        return found

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The module's floating-point array elements."""
        return size(self._split()[0])

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The module's floating-point arrays (``None`` elsewhere in its tree), built with
        ``key`` by a builder."""
        if not self._is_builder():
            return self._split()[0]
        import equinox as eqx
        import jax

        template, static = self._split()
        params, static_now = eqx.partition(self.module(key), eqx.is_inexact_array)
        if not (_same_tree(static_now, static) and _same_tree(params, template)
                and [a.shape for a in jax.tree_util.tree_leaves(params)] == [a.shape for a in jax.tree_util.tree_leaves(template)]):
            raise InvalidSignature(f"Equinox({_short(self.module)})", "the builder made modules of different "
                                   "structures for different keys; its key may decide the weights only, not the "
                                   "module's layers, sizes or static fields")
        return params

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The module, rebuilt from ``params`` and its static part, on every sample (with a
        key each while training, in inference mode at inference, when it takes a key)."""
        import equinox as eqx
        import jax

        module = eqx.combine(params, self._split()[1])
        if not takes_keyword(type(module).__call__, "key"):
            return jax.vmap(module)(x)
        if key is None:
            module = eqx.nn.inference_mode(module)
            return jax.vmap(lambda sample: module(sample, key=None))(x)
        return jax.vmap(lambda sample, k: module(sample, key=k))(x, jax.random.split(key, x.shape[0]))


def _same_tree(a: Any, b: Any) -> bool:
    import jax

    left: Any = jax.tree_util.tree_structure(a)  # PyTreeDef's __eq__ is untyped
    return bool(left == jax.tree_util.tree_structure(b))


def _non_float_dtypes(tree: Any) -> list[str]:
    """The dtypes of ``tree``'s arrays that gradients cannot train (integers, booleans)."""
    import jax
    import jax.numpy as jnp

    return [str(a.dtype) for a in jax.tree_util.tree_leaves(tree) if not jnp.issubdtype(a.dtype, jnp.inexact)]


def _is_float_shape(leaf: object) -> bool:
    import jax
    import jax.numpy as jnp

    return isinstance(leaf, jax.ShapeDtypeStruct) and bool(jnp.issubdtype(leaf.dtype, jnp.inexact))


@attrs.frozen(eq=False)
class Flax(Layer):
    """A Flax module as a layer, called on the whole batch (Flax layers broadcast over leading
    axes); only floating-point parameters are trained, and a module that carries other state
    (``BatchNorm``'s running statistics, any mutable collection) is refused.

    - A ``flax.linen.Module``: ``module.init`` on a batch of one float32 sample of zeros,
      with the run's key, makes ``variables["params"]``; ``module.apply`` runs it, given
      ``rngs={"dropout": key}`` while training. If its ``__call__`` takes a keyword
      ``deterministic`` (or ``train``) it gets ``False`` (``True``) while training and
      ``True`` (``False``) at inference and at init.
    - A builder ``rngs -> flax.nnx.Module``, e.g. ``Flax(lambda rngs: MyNet(d, rngs=rngs))``:
      built with ``nnx.Rngs(key)`` from the run's key, so the weights follow the seed; its
      graph comes from a build with a fixed key (traced, not run).
    - A ``flax.nnx.Module`` itself: its ``nnx.Param`` arrays are the parameters, fixed by the
      plugin's ``Rngs`` (the run's seed then varies only the order of the minibatches).

    An nnx module's RNG streams (``nnx.Dropout(0.5, rngs=rngs)``) are reseeded from the
    layer's key at every training step; at inference it runs after ``.eval()`` (dropout off)
    with fixed keys. A ``__call__`` taking ``rngs`` also gets ``nnx.Rngs`` of such a key.
    Parameters are plain nested dicts of arrays (``nnx.to_pure_dict``).

    Args:
        module: a linen module, an nnx module, or a builder ``rngs -> nnx.Module``.
    """

    module: Any = attrs.field(validator=_callable("Flax", "lambda rngs: MyNet(d, rngs=rngs)"))
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    def _kind(self) -> str:
        linen = sys.modules.get("flax.linen")
        if linen is not None and isinstance(self.module, linen.Module):
            return "linen"
        nnx = sys.modules.get("flax.nnx")
        return "nnx" if nnx is not None and isinstance(self.module, nnx.Module) else "builder"

    def _refuse(self, problem: str) -> InvalidSignature:
        return InvalidSignature(f"Flax({_short(self.module)})", problem)

    def _linen_flags(self, training: bool) -> dict[str, bool]:
        call = type(self.module).__call__
        flags = {"deterministic": not training} if takes_keyword(call, "deterministic") else {}
        return {**flags, "train": training} if takes_keyword(call, "train") else flags

    def _nnx_parts(self, module: Any) -> tuple[Any, Any, Any, Any]:
        """``(graphdef, params, rng keys, rng counts)`` of an nnx module; refuses other state."""
        from flax import nnx

        graph, params, *states = nnx.split(module, nnx.Param, nnx.RngKey, nnx.RngCount, ...)
        keys, counts, rest = states
        held = [(".".join(map(str, path)), type(value).__name__) for path, value in nnx.to_flat_state(rest)]
        if held:
            raise self._refuse(
                "the module holds state besides nnx.Param and its RNG streams: "
                + ", ".join(f"{path} ({kind})" for path, kind in held[:5]) + "; saibench trains floating-point "
                "nnx.Param arrays only and carries no state updated in place: use nnx.LayerNorm or nnx.GroupNorm "
                "instead of nnx.BatchNorm, and compute constants in __call__ (or keep them as Python values)")
        if ints := _non_float_dtypes(params):
            raise self._refuse(f"nnx.Param arrays of dtype {', '.join(ints[:3])} cannot be trained by gradients; "
                               "make them floating-point")
        return graph, params, keys, counts

    def _nnx(self) -> tuple[Any, Any, Any, Any]:
        """The nnx parts: the module's own, or a builder's traced with a fixed key."""
        if "nnx" not in self._cache:
            from flax import nnx

            module = self.module
            if self._kind() == "builder":
                module = nnx.eval_shape(lambda: self._build(nnx.Rngs(0)))
            self._cache["nnx"] = self._nnx_parts(module)
        found: tuple[Any, Any, Any, Any] = self._cache["nnx"]
        return found

    def _build(self, rngs: Any) -> Any:
        from flax import nnx

        built = self.module(rngs)
        if not isinstance(built, nnx.Module):
            raise self._refuse(f"the builder returned a {type(built).__name__}, not a flax.nnx.Module; write "
                               "Flax(lambda rngs: MyNet(d, rngs=rngs)), or Flax(module) for a linen module")
        return built

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The parameters' elements (a linen module's by ``jax.eval_shape`` of its init)."""
        if self._kind() == "linen":
            return super().parameter_count(shape, dims)
        return size(self._nnx()[1])

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The parameters: linen's ``params`` collection (initialised with ``key``), or the
        nnx module's ``nnx.Param`` arrays (a builder's built with ``nnx.Rngs(key)``)."""
        import jax
        import jax.numpy as jnp

        kind = self._kind()
        if kind == "linen":
            from flax.core import unfreeze

            params_key, dropout_key = jax.random.split(key)
            sample = jnp.zeros((1, *shape), jnp.float32)
            variables = unfreeze(self.module.init({"params": params_key, "dropout": dropout_key}, sample,
                                                  **self._linen_flags(False)))
            others = sorted(set(variables) - {"params"})
            if others:
                raise self._refuse(
                    f"the module has variable collections {others} besides 'params' (BatchNorm's 'batch_stats', or "
                    "another mutable collection); saibench trains 'params' only and carries no state updated in "
                    "place: use nn.LayerNorm or nn.GroupNorm instead of nn.BatchNorm")
            params = variables.get("params", {})
            if ints := _non_float_dtypes(params):
                raise self._refuse(f"parameters of dtype {', '.join(ints[:3])} cannot be trained by gradients")
            return params
        from flax import nnx

        graph, template, _, _ = self._nnx()
        if kind == "nnx":
            return nnx.to_pure_dict(template)
        built_graph, params, _, _ = self._nnx_parts(self._build(nnx.Rngs(_typed_key(key))))
        if built_graph != graph:
            raise self._refuse("the builder made modules of different structures for different keys; its rngs may "
                               "decide the weights only, not the module's layers or sizes")
        return nnx.to_pure_dict(params)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The module on the batch: dropout on, with keys from ``key``, while training; off,
        with fixed keys, at inference."""
        import jax

        if self._kind() == "linen":
            variables = {"params": params}
            if key is None:
                return self.module.apply(variables, x, **self._linen_flags(False))
            return self.module.apply(variables, x, rngs={"dropout": key}, **self._linen_flags(True))
        import jax.numpy as jnp
        from flax import nnx

        graph, template, keys, counts = self._nnx()
        state = jax.tree_util.tree_map(lambda leaf: leaf, template)  # a copy: filled in place below
        nnx.replace_by_pure_dict(state, params)
        streams, call = jax.random.split(jax.random.key(0) if key is None else _typed_key(key))
        old, tree = jax.tree_util.tree_flatten(keys)
        fresh = [jax.random.split(k, leaf.shape) if leaf.shape else k
                 for k, leaf in zip(jax.random.split(streams, len(old)), old, strict=True)]
        zeros = jax.tree_util.tree_map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), counts)
        module = nnx.merge(graph, state, jax.tree_util.tree_unflatten(tree, fresh), zeros)
        if key is None:
            module.eval()
        if takes_keyword(type(module).__call__, "rngs"):
            return module(x, rngs=nnx.Rngs(call))
        return module(x)


def as_layer(value: object) -> Layer | None:
    """What a model factory returned, as a layer (an ``equinox.Module`` wrapped in
    ``Equinox``, a Flax linen or nnx module in ``Flax``), or ``None`` when it is neither."""
    if isinstance(value, Layer):
        return value
    # a module made by a plugin has imported its library already: nothing is imported here
    eqx = sys.modules.get("equinox")
    if eqx is not None and isinstance(value, eqx.Module):
        return Equinox(value)
    for name in ("flax.linen", "flax.nnx"):
        flax = sys.modules.get(name)
        if flax is not None and isinstance(value, flax.Module):
            return Flax(value)
    return None
