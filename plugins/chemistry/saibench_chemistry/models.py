"""Learned potentials: Deep Sets over per-atom descriptors, and a learned pair potential.

``deep_sets`` sums a per-atom network over a ``Set`` (the ``symmetry_functions`` of each
atom, say), so its energy is invariant to the atoms' order by construction; the per-atom
network is not written here but Required, and the planner fills it from the installed
models (the standard ``mlp_regressor``, for one). ``pair_potential`` learns one function
of distance, summed over every pair within the cutoff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np

from sail_types import (
    Configuration,
    Input,
    JaxModel,
    Layer,
    Map,
    Pipeline,
    Regress,
    Require,
    Scalar,
    Set,
    Suggest,
    Sum,
    Tensor,
    model,
)

from .common import Potential
from .descriptors import CUTOFF, cosine_cutoff, pair_distances

BASIS_CENTRES = tuple(float(r) for r in np.linspace(1.5, CUTOFF, 16))
"""Å. The centres of the Gaussian radial basis ``pair_potential``'s network reads a distance through."""
BASIS_ETA = 1.0 / (2 * (BASIS_CENTRES[1] - BASIS_CENTRES[0]) ** 2)
"""Å⁻². Their width: one basis spacing is one standard deviation, so neighbouring Gaussians overlap."""
OUTPUT_SCALE = 0.01  # the last layer's initial weights: the initial pair energies are small, as a metal's are (eV)


@model(task=Regress, field="chemistry")
def deep_sets(x: Annotated[Input, Set("n", "d")], *, phi: Layer = Require(Regress, Tensor("d"), Scalar())) -> Annotated[Layer, Scalar()]:
    """Deep Sets (Zaheer et al., NeurIPS 2017): ``Σᵢ φ(xᵢ)``, a network ``φ`` applied to every
    element's features and summed; invariant to the elements' order by construction. Over
    atoms' symmetry functions it is a Behler–Parrinello potential (Behler & Parrinello 2007):
    the energy as a sum of atomic energies."""
    return Pipeline(Map(phi), Sum())


def pair_energy(term: Callable[[Any], Any], x: Any) -> Any:
    """``½ Σ_{i≠j} term(r_ij)`` of configurations ``x`` ``(B, n + 1, 4)``: energies ``(B,)``,
    pure ``jax.numpy``. ``term`` maps distances (Å, any shape) to pair energies (eV) and
    carries its own cutoff; it is evaluated on every pair, also beyond any cutoff and on a
    placeholder distance of 1 on the diagonal, which is masked out."""
    import jax.numpy as jnp

    pairs = pair_distances(x)
    return 0.5 * jnp.sum(term(pairs.distances) * pairs.others, axis=(1, 2))


def _dense(key: Any, fan_in: int, fan_out: int, scale: float = 1.0) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp

    weights = scale * jax.random.normal(key, (fan_in, fan_out)) / np.sqrt(fan_in)  # LeCun normal (tanh)
    return {"w": weights, "b": jnp.zeros(fan_out)}


def pair_network(width: int) -> tuple[Callable[[Any, Any], Any], Callable[..., Any]]:
    """``(init, apply)`` of the pair potential ``E = ½ Σ_{i≠j} φθ(r_ij) fc(r_ij) + n e₀``:
    ``φθ`` a tanh perceptron with two hidden layers of ``width`` on a Gaussian radial basis
    of ``r`` (``BASIS_CENTRES``), ``fc`` the cosine cutoff at ``CUTOFF``, ``e₀`` a learned
    energy per atom (the reference the pair energies are counted from)."""
    import jax
    import jax.numpy as jnp

    def init(key: Any, shape: tuple[int, ...]) -> dict[str, Any]:
        first, second, last = jax.random.split(key, 3)
        return {"hidden": [_dense(first, len(BASIS_CENTRES), width), _dense(second, width, width)],
                "out": _dense(last, width, 1, OUTPUT_SCALE), "e0": jnp.zeros(())}

    def apply(params: dict[str, Any], x: Any) -> Any:
        def term(r: Any) -> Any:
            h = jnp.exp(-BASIS_ETA * (r[..., None] - jnp.asarray(BASIS_CENTRES, dtype=r.dtype)) ** 2)
            for layer in params["hidden"]:
                h = jnp.tanh(h @ layer["w"] + layer["b"])
            phi = (h @ params["out"]["w"] + params["out"]["b"])[..., 0]
            return phi * cosine_cutoff(r)

        n = x.shape[1] - 1
        return pair_energy(term, x) + n * params["e0"]

    return init, apply


@model(task=Potential, field="chemistry")
def pair_potential(x: Annotated[Input, Configuration("n")], *, width: int = Suggest([32])) -> Annotated[JaxModel, Scalar()]:
    """A learned pair potential (an embedding-free neural pair potential, as in the pair
    terms of Behler 2011 §II): ``E = ½ Σ_{i≠j} φθ(r_ij) fc(r_ij) + n e₀`` with ``φθ`` a
    small tanh network of a Gaussian radial basis of the distance (minimum image, cutoff
    3.5 Å). Invariant to the atoms' order, translations and rotations by construction."""
    init, apply = pair_network(width)
    return JaxModel(init=init, apply=apply)
