"""The specimen: crystalline gold nanoparticles on an amorphous carbon support film, as
projected atom positions, and the particles' footprints on the pixel grid.

Each particle is the set of sites of the fcc gold lattice (a = 4.078 Å) inside a sphere of
random radius, the lattice randomly shifted and rotated in the image plane about its [001]
axis, which lies along the beam: viewed down this zone axis the atoms stack in columns
2.04 Å apart, which the microscope resolves. The support is a film of carbon atoms at
random positions (an ideal gas at amorphous carbon's density, 0.1 Å⁻³; real films also
keep a 1.4 Å nearest-neighbour distance, which only reshapes their speckle). Both are
projected along the beam, as the one-slice imaging model sees them.
"""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

from .scattering import CARBON, GOLD

GOLD_LATTICE = 4.078  # Å, fcc gold at room temperature
CARBON_DENSITY = 0.1  # atoms / Å³ (amorphous carbon, ~2 g/cm³)
FOOTPRINT_RADIUS = 1.5  # Å around each column: discs of the [001] columns (2.04 Å apart) join into the particle's shape
FCC_BASIS = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])


@attrs.frozen
class Geometry:
    """What a field of view holds and how it is sampled.

    The specimen is simulated over a larger, periodic cell: the image plus ``padding``
    pixels on every side, so that particles may be cut by the image's edge (as in a real
    micrograph) and nothing wraps around the periodic cell into the image.

    Attributes:
        size: pixels along each side of the square image.
        pixel: pixel size (Å).
        padding: pixels simulated beyond each edge of the image.
        particles: the fewest and most particles in the simulated cell.
        radius: the smallest and largest particle radius (Å).
        carbon_thickness: thickness of the carbon support film (Å).
        oversampling: the wave is computed on a grid this many times finer, whose
            intensity each detector pixel integrates (so the exponential's harmonics do not
            alias into the image, and a pixel counts what falls on its whole area).
    """

    size: int = 64
    pixel: float = 0.4
    padding: int = 16
    particles: tuple[int, int] = (2, 5)
    radius: tuple[float, float] = (3.5, 6.5)
    carbon_thickness: float = 20.0
    oversampling: int = 2

    @property
    def cell(self) -> float:
        """The side of the simulated periodic cell (Å)."""
        return (self.size + 2 * self.padding) * self.pixel

    @property
    def wave_pixels(self) -> tuple[int, float]:
        """``(points per side, spacing in Å)`` of the grid the wave is computed on, over the cell."""
        return (self.size + 2 * self.padding) * self.oversampling, self.pixel / self.oversampling


@attrs.frozen
class Specimen:
    """One simulated cell, projected along the beam.

    Attributes:
        columns: per particle, the ``(x, y)`` positions (Å) of its atom columns, ``(m, 2)``.
        occupancy: per particle, the number of gold atoms in each column, ``(m,)``.
        carbon: the carbon atoms over each cell of the wave grid, ``(n, n)``: a random
            amorphous film, its atoms placed at random among points 0.2 Å apart
            (``Geometry.wave_pixels``), far finer than the microscope resolves.
    """

    columns: tuple[NDArray[np.float64], ...]
    occupancy: tuple[NDArray[np.int64], ...]
    carbon: NDArray[np.int64]


def particle(rng: np.random.Generator, centre: NDArray[np.float64], radius: float) -> NDArray[np.float64]:
    """The ``(x, y, z)`` positions (Å) of the fcc gold sites within ``radius`` of ``centre``,
    the lattice shifted at random and rotated at random about [001] (the beam axis)."""
    cells = int(np.ceil(radius / GOLD_LATTICE)) + 1
    grid = np.stack(np.meshgrid(*[np.arange(-cells, cells + 1)] * 3, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    sites = ((grid + FCC_BASIS + rng.uniform(0, 1, 3)) * GOLD_LATTICE).reshape(-1, 3)
    sites = sites[np.linalg.norm(sites, axis=1) <= radius]
    angle = rng.uniform(0, np.pi / 2)  # the square [001] projection repeats every quarter turn
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    return np.asarray(sites @ rotation.T + centre)


def _place(rng: np.random.Generator, geometry: Geometry) -> list[tuple[NDArray[np.float64], float]]:
    """Centres (Å) and radii of particles in the cell, at least 1 Å apart and clear of its
    edges (a particle that finds no room in 50 draws is left out)."""
    placed: list[tuple[NDArray[np.float64], float]] = []
    for _ in range(rng.integers(geometry.particles[0], geometry.particles[1] + 1)):
        for _attempt in range(50):
            radius = rng.uniform(*geometry.radius)
            centre = rng.uniform(radius + FOOTPRINT_RADIUS, geometry.cell - radius - FOOTPRINT_RADIUS, 2)
            if all(np.linalg.norm(centre - c) > radius + r + 2 * FOOTPRINT_RADIUS + 1.0 for c, r in placed):
                placed.append((centre, radius))
                break
    return placed


def specimen(rng: np.random.Generator, geometry: Geometry) -> Specimen:
    """A random cell: its particles on a carbon film covering all of it."""
    columns, occupancy = [], []
    for centre, radius in _place(rng, geometry):
        xy, count = np.unique(np.round(particle(rng, np.append(centre, 0.0), radius)[:, :2], 6), axis=0, return_counts=True)
        columns.append(xy)
        occupancy.append(count.astype(np.int64))
    n, spacing = geometry.wave_pixels
    carbon = rng.poisson(CARBON_DENSITY * geometry.carbon_thickness * spacing**2, (n, n))
    return Specimen(tuple(columns), tuple(occupancy), carbon.astype(np.int64))


def pixel_centres(geometry: Geometry) -> NDArray[np.float64]:
    """``(size, size, 2)``: the ``(x, y)`` (Å, in the cell) of each image pixel's centre,
    the row index along y."""
    axis = (geometry.padding + np.arange(geometry.size) + 0.5) * geometry.pixel
    x, y = np.meshgrid(axis, axis)
    return np.stack([x, y], axis=-1)


def footprint(columns: tuple[NDArray[np.float64], ...], geometry: Geometry) -> NDArray[np.bool_]:
    """The pixels whose centres lie within ``FOOTPRINT_RADIUS`` of some particle column:
    the projected footprint of the particles, ``(size, size)``."""
    centres = pixel_centres(geometry).reshape(-1, 1, 2)
    mask = np.zeros(geometry.size**2, dtype=bool)
    for cols in columns:
        mask |= (((centres - cols[None]) ** 2).sum(axis=-1) <= FOOTPRINT_RADIUS**2).any(axis=1)
    return mask.reshape(geometry.size, geometry.size)


def structure_factors(atoms: Specimen, geometry: Geometry) -> dict[int, NDArray[np.complex128]]:
    """For each element, ``Σ_j exp(−2πi k·r_j)`` over its atoms at every spatial frequency of
    the wave grid (``numpy.fft.fftfreq`` order, ``[k_y, k_x]``), periodic over the cell.
    Grid point ``j`` sits at ``(j + ½) × spacing``, so that the points a detector
    pixel averages are centred on it: the carbon film's transform is the FFT of its atom
    counts, the gold columns' is computed exactly at their positions."""
    n, spacing = geometry.wave_pixels
    k = np.fft.fftfreq(n, d=spacing)
    gold = np.zeros((n, n), np.complex128)
    for xy, count in zip(atoms.columns, atoms.occupancy, strict=True):
        shifted = xy - spacing / 2
        phase_x = np.exp(-2j * np.pi * np.outer(shifted[:, 0], k)) * count[:, None]  # exp(-2πi(kx x + ky y)) = e_x e_y
        phase_y = np.exp(-2j * np.pi * np.outer(shifted[:, 1], k))
        gold += phase_y.T @ phase_x
    return {CARBON: np.fft.fft2(atoms.carbon), GOLD: gold}
