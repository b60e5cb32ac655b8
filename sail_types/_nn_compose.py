"""Layers made of layers: in order, side by side, with a skip, over the elements of a set."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape, split_key
from ._nn import _Parameterless

__all__ = ["Concat", "Map", "Pipeline", "Residual", "Sum"]


def _layers(owner: str, layers: Iterable[object]) -> tuple[Layer, ...]:
    found = tuple(layers)
    for layer in found:
        if not isinstance(layer, Layer):
            raise TypeError(f"{owner} takes SAIL layers, got {layer!r}; e.g. {owner}(Linear(8), Relu())")
    return found  # type: ignore[return-value] # each checked above


@attrs.frozen(init=False)
class Pipeline(Layer):
    """Layers applied in order: ``Pipeline(Linear(256), Relu(), Linear("k"), Softmax())``.

    Its parameters are a tuple, one entry per layer.
    """

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer) -> None:
        self.__attrs_init__(_layers("Pipeline", layers))  # type: ignore[attr-defined, unused-ignore]

    def _shapes(self, shape: Shape, dims: Dims) -> list[Shape]:
        shapes = [shape]
        for layer in self.layers:
            shapes.append(layer.output_shape(shapes[-1], dims))
        return shapes

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The last layer's output shape."""
        return self._shapes(shape, dims)[-1]

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The sum over the layers."""
        shapes = self._shapes(shape, dims)
        return sum(layer.parameter_count(s, dims) for layer, s in zip(self.layers, shapes))

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """Each layer's parameters, on the shape the layers before it produce."""
        params = []
        for layer, part_key in zip(self.layers, split_key(key, max(len(self.layers), 1))):
            params.append(layer.init(part_key, shape, dims))
            shape = layer.output_shape(shape, dims)
        return tuple(params)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The layers in order."""
        for layer, p, part_key in zip(self.layers, params, split_key(key, len(self.layers))):
            x = layer.apply(p, x, dims, key=part_key)
        return x


@attrs.frozen
class Residual(Layer):
    """``x + layer(x)``: the skip connection of a residual block (He et al., 2016)."""

    layer: Layer

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The input shape, which the inner layer must keep."""
        out = self.layer.output_shape(shape, dims)
        if out != shape:
            raise InvalidSignature(repr(self), f"a residual block must keep its input shape {shape}, its layer gives {out}")
        return shape

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The inner layer's."""
        return self.layer.parameter_count(shape, dims)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The inner layer's parameters."""
        self.output_shape(shape, dims)
        return self.layer.init(key, shape, dims)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """``x + layer(x)``."""
        return x + self.layer.apply(params, x, dims, key=key)


@attrs.frozen(init=False)
class Concat(Layer):
    """Several layers on the same input, their outputs joined on the last (channel) axis:
    ``Concat(Identity(), Pipeline(MaxPool(2), inner, ConvTranspose(16, 2, stride=2)))`` is
    the skip connection of a U-Net (Ronneberger et al., 2015).

    Its parameters are a tuple, one entry per branch.
    """

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer) -> None:
        if not layers:
            raise TypeError("Concat takes at least one layer, e.g. Concat(Identity(), Conv(8, 3))")
        self.__attrs_init__(_layers("Concat", layers))  # type: ignore[attr-defined, unused-ignore]

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The branches' common shape, its last axis the sum of theirs."""
        outs = [layer.output_shape(shape, dims) for layer in self.layers]
        if len({(len(o), o[:-1]) for o in outs}) != 1:
            raise InvalidSignature(repr(self), f"branches give shapes {outs}: all but the last axis must agree")
        return outs[0][:-1] + (sum(o[-1] for o in outs),)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The sum over the branches."""
        return sum(layer.parameter_count(shape, dims) for layer in self.layers)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """Each branch's parameters."""
        self.output_shape(shape, dims)
        return tuple(layer.init(k, shape, dims) for layer, k in zip(self.layers, split_key(key, len(self.layers))))

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The branches' outputs, concatenated on the last axis."""
        import jax.numpy as jnp

        keys = split_key(key, len(self.layers))
        return jnp.concatenate([layer.apply(p, x, dims, key=k) for layer, p, k in zip(self.layers, params, keys)], axis=-1)


@attrs.frozen
class Map(Layer):
    """Apply ``layer`` to every element of a set, independently (the φ of Deep Sets)."""

    layer: Layer

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """``(n, *layer's output for one element)``."""
        return shape[:1] + self.layer.output_shape(shape[1:], dims)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """The inner layer's, shared by every element."""
        return self.layer.parameter_count(shape[1:], dims)

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """The inner layer's parameters, for one element."""
        return self.layer.init(key, shape[1:], dims)

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The inner layer on the elements of every set, as one batch."""
        y = self.layer.apply(params, x.reshape((-1,) + x.shape[2:]), dims, key=key)
        return y.reshape(x.shape[:2] + y.shape[1:])


@attrs.frozen
class Sum(_Parameterless):
    """Sum over the elements of a set: a permutation-invariant pooling."""

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """The element shape."""
        return shape[1:]

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """The sum over the first sample axis."""
        return x.sum(axis=1)
