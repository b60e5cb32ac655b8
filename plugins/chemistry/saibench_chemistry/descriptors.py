"""Behler–Parrinello atom-centred symmetry functions: a configuration as a set of atoms,
each described by what it sees within ``CUTOFF`` of it.

The radial functions ``G2`` count neighbours in shells, the angular ``G4`` weigh the
angles of neighbour pairs (Behler & Parrinello, Phys. Rev. Lett. 98, 146401, 2007; Behler,
J. Chem. Phys. 134, 074106, 2011, eqs. 5, 6 and 8). Each atom's descriptors are invariant to
translation and rotation and to the order of its neighbours, so a sum over atoms of any
function of them (``deep_sets``) is a potential with the symmetries of physics; written with
``jax.numpy`` throughout, so the engine differentiates energies through them into forces.

The same pair geometry (``pair_distances``, the minimum image in an orthorhombic cell) and
cutoff (``cosine_cutoff``) serve the pair potentials of ``models`` and ``classical``.
Species are not told apart: every neighbour counts alike, as suits one element (Cu).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from sail_types import Configuration, SaibenchError, Set, converter

CUTOFF = 3.5
"""Å. The cutoff radius ``rc`` of every descriptor and pair potential here: fcc Cu's first
shell (2.55 Å) and its thermal spread, short of the second (3.61 Å). A periodic cell edge
must be at least ``2 * CUTOFF`` for the minimum image to find every neighbour."""

RADIAL_CENTRES = tuple(float(r) for r in np.linspace(1.9, 3.3, 8))
"""Å. The shells ``r_s`` of the radial functions, 0.2 Å apart across the first shell."""
RADIAL_ETA = 12.5
"""Å⁻². Their width ``η = 1 / (2 σ²)`` with ``σ = 0.2`` Å, the shells' spacing."""
ANGULAR = ((1, -1.0), (1, 1.0), (2, -1.0), (2, 1.0), (4, -1.0), (4, 1.0), (16, -1.0), (16, 1.0))
"""The ``(ζ, λ)`` of the angular functions: ζ sharpens the angular resolution, λ = ±1 centres it on 0 or π."""
ANGULAR_ETA = 0.005
"""Å⁻². The angular functions' radial decay (Behler 2011's usual small value: the cutoff does the rest)."""
DESCRIPTORS = len(RADIAL_CENTRES) + len(ANGULAR)
"""16: the features of each atom, radial then angular."""

ROWS_PER_CHUNK = 128  # configurations computed at a time from NumPy: memory stays O(chunk × n³)

Configurations = Annotated[NDArray[np.float32], Configuration("n")]
Descriptors = Annotated[NDArray[np.float32], Set("n", DESCRIPTORS)]


class CellTooSmall(SaibenchError, ValueError):
    """A periodic cell is too small for the minimum-image convention at this cutoff.

    Attributes:
        edges: the offending configuration's cell edges (Å).
    """

    def __init__(self, who: str, edges: NDArray[Any]) -> None:
        super().__init__(
            f"{who}: a periodic cell edge of {float(np.min(edges[edges > 0])):.3f} Å (cell {np.round(edges, 3).tolist()}) is "
            f"shorter than twice the cutoff ({2 * CUTOFF} Å), so the minimum image would miss neighbours; make the "
            f"cell at least {2 * CUTOFF} Å along every periodic axis (e.g. ase's atoms.repeat((2, 2, 2)) for fcc Cu), "
            "or give zeros for a cluster without periodic boundaries")
        self.edges = edges


class Pairs(NamedTuple):
    """Every atom pair of a batch of configurations, by the minimum image.

    Attributes:
        vectors: ``r_j - r_i`` ``(B, n, n, 3)`` in Å, the nearest periodic image of ``j``.
        distances: ``|r_j - r_i|`` ``(B, n, n)``; 1 on the diagonal, a placeholder that keeps
            the square root and divisions by it smooth there (multiply by ``others``).
        others: ``(n, n)``: 1 for ``i ≠ j``, 0 on the diagonal.
    """

    vectors: Any
    distances: Any
    others: Any


def is_traced(x: object) -> bool:
    """Whether ``x`` is a JAX tracer (inside ``jit`` or ``grad``): its values are unknown."""
    import jax

    return isinstance(x, jax.core.Tracer)


def check_cell(x: Any, who: str) -> None:
    """Refuse concrete configurations ``(B, n + 1, 4)`` whose periodic cell has an edge
    shorter than ``2 * CUTOFF``; traced ones (inside ``jit``/``grad``) have no values to
    check and pass unchecked, so check the data once before tracing.

    Raises:
        CellTooSmall: naming ``who``, the cell and the fix.
    """
    if is_traced(x):
        return
    edges = np.asarray(x)[:, 0, 1:]
    short = (edges > 0) & (edges < 2 * CUTOFF)
    if np.any(short):
        raise CellTooSmall(who, edges[np.flatnonzero(short.any(axis=1))[0]])


def pair_distances(x: Any) -> Pairs:
    """The pair vectors and distances of configurations ``x`` ``(B, n + 1, 4)``.

    Row 0's cell edges ``(a, b, c)`` make each nonzero axis periodic (minimum image, the
    nearest copy of each atom); a zero edge leaves that axis open. Smooth everywhere a
    pair's distance is: the image shift is piecewise constant, and the diagonal's zero
    distance never enters a square root. No check of the cell here (see ``check_cell``).
    """
    import jax.numpy as jnp

    x = jnp.asarray(x)
    cell = x[:, 0, None, None, 1:]
    positions = x[:, 1:, 1:]
    vectors = positions[:, None, :, :] - positions[:, :, None, :]
    periodic = cell > 0
    edge = jnp.where(periodic, cell, 1.0)
    vectors = vectors - jnp.where(periodic, edge * jnp.round(vectors / edge), 0.0)
    n = positions.shape[1]
    eye = jnp.eye(n, dtype=x.dtype)
    distances = jnp.sqrt(jnp.sum(vectors**2, axis=-1) + eye)
    return Pairs(vectors, distances, 1.0 - eye)


def cosine_cutoff(r: Any) -> Any:
    """``fc(r) = (cos(π r / rc) + 1) / 2`` below ``rc = CUTOFF``, 0 beyond (Behler 2011,
    eq. 2): it and its slope vanish at ``rc``, so energies and forces stay continuous as
    atoms cross it."""
    import jax.numpy as jnp

    return jnp.where(r < CUTOFF, 0.5 * (jnp.cos(jnp.pi * r / CUTOFF) + 1.0), 0.0)


def describe_atoms(x: Any) -> Any:
    """The ``DESCRIPTORS`` symmetry functions of every atom, ``(B, n + 1, 4) -> (B, n, 16)``,
    pure ``jax.numpy`` (traceable; the dtype of ``x``).

    ``G2_i = Σ_j exp(-η (r_ij - r_s)²) fc(r_ij)`` for each shell ``r_s``, then
    ``G4_i = 2^(1-ζ) Σ_{j≠i, k≠i, j≠k} (1 + λ cos θ_ijk)^ζ exp(-η' (r_ij² + r_ik² + r_jk²))
    fc(r_ij) fc(r_ik) fc(r_jk)`` for each ``(ζ, λ)``, over ordered pairs ``(j, k)`` as in
    Behler's eq. 8.
    """
    import jax.numpy as jnp

    pairs = pair_distances(x)
    r = pairs.distances
    fc = cosine_cutoff(r) * pairs.others
    centres = jnp.asarray(RADIAL_CENTRES, dtype=r.dtype)
    radial = jnp.sum(jnp.exp(-RADIAL_ETA * (r[..., None] - centres) ** 2) * fc[..., None], axis=2)
    dots = jnp.einsum("bijc,bikc->bijk", pairs.vectors, pairs.vectors)
    inverse = pairs.others / r
    cosines = dots * inverse[:, :, :, None] * inverse[:, :, None, :]
    r2 = r**2
    g = jnp.exp(-ANGULAR_ETA * r2) * fc  # zero for j = i and beyond the cutoff
    # Behler's r_jk joins the images of j and k nearest to i. Where that distance (law of cosines) is within the
    # cutoff, it is also the minimum image's, as the cell is at least 2 rc: so g_jk of the pair matrix serves, and no
    # transcendental is evaluated on the (B, n, n, n) triples. The mask switches where fc(r_jk) and its slope are 0.
    near = r2[:, :, :, None] + r2[:, :, None, :] - 2.0 * dots < CUTOFF**2
    weights = g[:, :, :, None] * g[:, :, None, :] * jnp.where(near, g[:, None, :, :], 0.0)  # g_jk is zero for j = k
    angular = [2.0 ** (1 - zeta) * jnp.sum((1.0 + lam * cosines) ** zeta * weights, axis=(2, 3)) for zeta, lam in ANGULAR]
    return jnp.concatenate([radial, jnp.stack(angular, axis=-1)], axis=-1)


@functools.cache
def _compiled() -> Any:
    """``describe_atoms`` jit-compiled, once per process (and per input shape, by JAX)."""
    import jax

    return jax.jit(describe_atoms)


@converter(cost=1.0)
def symmetry_functions(x: Configurations) -> Descriptors:
    """Each atom of a configuration as its 16 Behler–Parrinello symmetry functions
    (8 radial, 8 angular, cutoff ``CUTOFF`` = 3.5 Å): ``(B, n + 1, 4) -> (B, n, 16)``.

    NumPy in: the cell is checked (``CellTooSmall`` for an edge under ``2 * CUTOFF``), the
    batch computed jit-compiled a chunk of at most ``ROWS_PER_CHUNK`` at a time, and
    float32 NumPy returned. JAX tracers in (the engine differentiating energies into forces
    through it): the jax.numpy expression, unchecked, in the input's dtype.
    """
    if is_traced(x):
        return cast(NDArray[np.float32], describe_atoms(x))
    check_cell(x, "converter symmetry_functions")
    batch = np.asarray(x, dtype=np.float32)
    compiled = _compiled()
    # every chunk padded (with copies of its last configuration) to a power of two, at most ROWS_PER_CHUNK: a few
    # compiled shapes serve fixtures of any size
    size = min(ROWS_PER_CHUNK, 1 << max(len(batch) - 1, 0).bit_length())
    chunks = []
    for start in range(0, len(batch), size):
        chunk = batch[start:start + size]
        padded = np.pad(chunk, ((0, size - len(chunk)), (0, 0), (0, 0)), mode="edge")
        chunks.append(np.asarray(compiled(padded))[:len(chunk)])
    n = batch.shape[1] - 1
    return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, n, DESCRIPTORS), dtype=np.float32)
