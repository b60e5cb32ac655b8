"""Declarative neural-network layers. saibench compiles them to pure JAX ``init``/``apply``.

Widths may be symbolic dims (``Linear("k")``), bound by the planner from the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs

from ._types import Dim, _check_dim, evaluate_dim

Shape = tuple[int, ...]


@attrs.frozen
class Layer:
    """Base of every declarative layer."""


@attrs.frozen
class Linear(Layer):
    """Affine map to ``features`` outputs on the last axis."""

    features: Dim = attrs.field(converter=_check_dim)
    bias: bool = True


@attrs.frozen
class Relu(Layer):
    """Rectified linear unit."""


@attrs.frozen
class Tanh(Layer):
    """Hyperbolic tangent."""


@attrs.frozen
class Gelu(Layer):
    """Gaussian error linear unit."""


@attrs.frozen
class Softmax(Layer):
    """Softmax over the last axis. Trailing, it is fused into the cross-entropy loss."""


@attrs.frozen(init=False)
class Pipeline(Layer):
    """Layers applied in order: ``Pipeline(Linear(256), Relu(), Linear("k"), Softmax())``."""

    layers: tuple[Layer, ...]

    def __init__(self, *layers: Layer) -> None:
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Pipeline takes SAIL layers, got {layer!r}; e.g. Pipeline(Linear(8), Relu())")
        self.__attrs_init__(layers)  # type: ignore[attr-defined]


@attrs.frozen
class Map(Layer):
    """Apply ``layer`` to every element of a set, independently (the φ of Deep Sets)."""

    layer: Layer


@attrs.frozen
class Sum(Layer):
    """Sum over the elements of a set: a permutation-invariant pooling."""


@attrs.frozen
class Conv(Layer):
    """Convolution over the spatial axes of ``(w, c)`` or ``(h, w, c)`` samples (channels
    last): ``features`` output channels, a square ``kernel``, ``"SAME"`` or ``"VALID"`` padding."""

    features: Dim = attrs.field(converter=_check_dim)
    kernel: Dim = attrs.field(converter=_check_dim)
    stride: int = 1
    padding: str = attrs.field(default="SAME", validator=attrs.validators.in_(("SAME", "VALID")))

    def output_shape(self, shape: Shape, dims: Mapping[str, int]) -> Shape:
        """The sample shape this convolution produces from ``shape``."""
        kernel = evaluate_dim(self.kernel, dims)
        spatial = tuple(-(-s // self.stride) if self.padding == "SAME" else (s - kernel) // self.stride + 1 for s in shape[:-1])
        return spatial + (evaluate_dim(self.features, dims),)


@attrs.frozen
class MaxPool(Layer):
    """Maximum over non-overlapping ``window``-wide patches of the spatial axes."""

    window: int = 2

    def output_shape(self, shape: Shape) -> Shape:
        """Spatial axes divided by the window, channels kept."""
        return tuple(s // self.window for s in shape[:-1]) + shape[-1:]


@attrs.frozen
class AvgPool(Layer):
    """Mean over non-overlapping ``window``-wide patches of the spatial axes."""

    window: int = 2

    def output_shape(self, shape: Shape) -> Shape:
        """Spatial axes divided by the window, channels kept."""
        return tuple(s // self.window for s in shape[:-1]) + shape[-1:]


@attrs.frozen
class Flatten(Layer):
    """All axes of a sample into one."""


@attrs.frozen
class LayerNorm(Layer):
    """Normalise the last axis to zero mean and unit variance, then a learned scale and shift."""

    epsilon: float = 1e-5


@attrs.frozen
class Residual(Layer):
    """``x + layer(x)``: the skip connection of a residual block (shapes must agree)."""

    layer: Layer


@attrs.frozen
class Recurrent(Layer):
    """A recurrent layer over ``(t, d)`` samples with ``features`` hidden units; the last
    hidden state, or every step's with ``sequences=True``."""

    features: Dim = attrs.field(converter=_check_dim)
    sequences: bool = False
    gates: ClassVar[int] = 0

    def output_shape(self, shape: Shape, dims: Mapping[str, int]) -> Shape:
        """``(t, hidden)`` with ``sequences``, else ``(hidden,)``."""
        hidden = evaluate_dim(self.features, dims)
        return (shape[0], hidden) if self.sequences else (hidden,)

    def parameter_count(self, shape: Shape, dims: Mapping[str, int]) -> int:
        """Input and hidden weights and a bias for every gate."""
        hidden = evaluate_dim(self.features, dims)
        return self.gates * hidden * (shape[-1] + hidden + 1)


@attrs.frozen
class LSTM(Recurrent):
    """A long short-term memory layer (gates: input, forget, cell, output)."""

    gates: ClassVar[int] = 4


@attrs.frozen
class GRU(Recurrent):
    """A gated recurrent unit layer (gates: reset, update, new)."""

    gates: ClassVar[int] = 3
