"""Message passing over the elements of a ``Set`` or the atoms of ``Atoms``."""

from __future__ import annotations

import attrs

from ._errors import InvalidSignature
from ._layer import Array, Dims, Layer, Params, Shape
from ._nn import Linear
from ._types import Dim, _check_dim, evaluate_dim

__all__ = ["MessagePassing"]


@attrs.frozen
class MessagePassing(Layer):
    """One round of message passing over ``(n, d)`` samples (Gilmer et al., 2017):
    ``h_i' = h_i W_self + Σ_{j ∈ N(i)} h_j W_message + b`` with ``features`` outputs.

    ``N(i)`` is every other element, or, with a ``cutoff``, those whose positions lie within
    ``cutoff`` of element ``i``'s (Euclidean distance). The positions are the input's
    columns ``positions[0]`` up to ``positions[1]``: ``(1, 4)``, the x, y, z of an ``Atom``'s
    ``(species, x, y, z)``. Permuting the elements permutes the outputs alike. To stack
    rounds over geometry, keep the positions beside the new features:
    ``Concat(Slice(1, 4, axis=-1), MessagePassing(16, cutoff=1.5))``, then
    ``MessagePassing(16, cutoff=1.5, positions=(0, 3))``.
    """

    features: Dim = attrs.field(converter=_check_dim)
    cutoff: float | None = None
    positions: tuple[int, int] = (1, 4)

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        """``(n, features)``."""
        if len(shape) != 2:
            raise InvalidSignature(repr(self), f"takes (n, d) samples (a Set or Atoms), got shape {shape}")
        start, stop = self.positions
        if self.cutoff is not None and not 0 <= start < stop <= shape[-1]:
            raise InvalidSignature(repr(self), f"positions {self.positions} are not columns of elements of {shape[-1]} features")
        return shape[:1] + (evaluate_dim(self.features, dims),)

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        """Two ``d x features`` weights and ``features`` biases."""
        features = evaluate_dim(self.features, dims)
        return 2 * shape[-1] * features + features

    def init(self, key: Array, shape: Shape, dims: Dims) -> Params:
        """``{"self": (d, f), "message": (d, f), "b": (f,)}``, LeCun-normal weights."""
        import jax

        self.output_shape(shape, dims)
        k1, k2 = jax.random.split(key)
        own = Linear(self.features).init(k1, shape, dims)
        return {"self": own["w"], "message": Linear(self.features, bias=False).init(k2, shape, dims)["w"], "b": own["b"]}

    def apply(self, params: Params, x: Array, dims: Dims, *, key: Array | None = None) -> Array:
        """Each element's own term plus the sum of its neighbours' messages."""
        import jax.numpy as jnp

        n = x.shape[1]
        adjacency = jnp.broadcast_to(~jnp.eye(n, dtype=bool), (x.shape[0], n, n))
        if self.cutoff is not None:
            r = x[..., self.positions[0]:self.positions[1]]
            squared = ((r[:, :, None, :] - r[:, None, :, :]) ** 2).sum(-1)
            adjacency = adjacency & (squared < self.cutoff**2)
        messages = jnp.einsum("nij,njf->nif", adjacency.astype(x.dtype), x @ params["message"])
        return x @ params["self"] + messages + params["b"]
