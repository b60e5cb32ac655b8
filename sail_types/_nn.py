"""Declarative neural-network layers. saibench compiles them to pure JAX ``init``/``apply``.

Widths may be symbolic dims (``Linear("k")``), bound by the planner from the problem.
"""

from __future__ import annotations

import attrs

from ._types import Dim, _check_dim


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


@attrs.frozen
class MaxPool(Layer):
    """Maximum over non-overlapping ``window``-wide patches of the spatial axes."""

    window: int = 2


@attrs.frozen
class AvgPool(Layer):
    """Mean over non-overlapping ``window``-wide patches of the spatial axes."""

    window: int = 2


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
class LSTM(Layer):
    """A long short-term memory layer over ``(t, d)`` samples, ``features`` hidden units;
    the last hidden state, or every step's with ``sequences=True``."""

    features: Dim = attrs.field(converter=_check_dim)
    sequences: bool = False


@attrs.frozen
class GRU(Layer):
    """A gated recurrent unit layer over ``(t, d)`` samples, as ``LSTM``."""

    features: Dim = attrs.field(converter=_check_dim)
    sequences: bool = False
