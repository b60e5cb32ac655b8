"""Bright-field phase-contrast imaging (HRTEM) of a thin specimen, and the electron counts
a detector records at a given dose.

The specimen is one phase object: the exit wave of a unit plane wave is ``exp(iσ v_z)``
(the strong-phase-object, or projection, approximation: no propagation inside the
specimen, so no multislice; no absorption). The objective lens multiplies the wave's
spectrum by ``A(k) exp(−iχ(k))``, with the aperture ``A`` and the aberration function
``χ(k) = πλk²(½ C_s λ² k² − Δf)`` (Kirkland 2020, eq. 3.42; Δf > 0 is under-focus), and the
image is ``|ψ|²`` of the fully coherent wave: no partial spatial or temporal coherence, no
detector blur or gain. The intensity is relative to the incident beam, so vacuum images at
1 exactly, and what the aperture stops makes heavy atoms dark (scattering contrast).
"""

from __future__ import annotations

import functools
import math

import attrs
import numpy as np
from numpy.typing import NDArray

from .scattering import CARBON, GOLD, interaction_constant, projected_potential_transform, wavelength
from .specimen import Geometry, Specimen, structure_factors


def scherzer_defocus(cs: float, voltage: float) -> float:
    """The extended Scherzer defocus ``sqrt(1.5 C_s λ)`` (Å), the under-focus that keeps the
    contrast transfer of one sign over the widest band (Kirkland 2020, eq. 3.46)."""
    return math.sqrt(1.5 * cs * wavelength(voltage))


@attrs.frozen
class Microscope:
    """The microscope's settings.

    Attributes:
        voltage: accelerating voltage (V).
        cs: spherical aberration coefficient (Å; 0.5 mm by default).
        defocus: defocus Δf (Å, > 0 under-focus); ``None``: Scherzer defocus.
        aperture: objective aperture radius as a spatial frequency (Å⁻¹); 0.6 Å⁻¹ passes
            the {200} gold reflections (0.49 Å⁻¹) and the Scherzer band of these settings.
    """

    voltage: float = 300e3
    cs: float = 0.5e7
    defocus: float | None = None
    aperture: float = 0.6

    @property
    def focus(self) -> float:
        """The defocus used (Å)."""
        return scherzer_defocus(self.cs, self.voltage) if self.defocus is None else self.defocus

    def aberration(self, k: NDArray[np.float64]) -> NDArray[np.float64]:
        """The aberration function χ (rad) at spatial frequencies ``k`` (Å⁻¹)."""
        lam = wavelength(self.voltage)
        return np.asarray(math.pi * lam * k**2 * (0.5 * self.cs * lam**2 * k**2 - self.focus))

    def transfer(self, k: NDArray[np.float64]) -> NDArray[np.complex128]:
        """The objective's transfer function ``A(k) exp(−iχ(k))``."""
        return np.asarray(np.where(k <= self.aperture, np.exp(-1j * self.aberration(k)), 0))


@functools.lru_cache(maxsize=16)
def frequencies(geometry: Geometry) -> NDArray[np.float64]:
    """``|k|`` (Å⁻¹) on the wave grid, in ``numpy.fft`` order (cached: do not write to it)."""
    k = np.fft.fftfreq(*geometry.wave_pixels)
    return np.asarray(np.hypot(*np.meshgrid(k, k)))


@functools.lru_cache(maxsize=16)
def _atom_transforms(geometry: Geometry) -> dict[int, NDArray[np.float64]]:
    return {z: projected_potential_transform(z, frequencies(geometry)) for z in (CARBON, GOLD)}


@functools.lru_cache(maxsize=16)
def _transfer(geometry: Geometry, microscope: Microscope) -> NDArray[np.complex128]:
    return microscope.transfer(frequencies(geometry))


def projected_potential(atoms: Specimen, geometry: Geometry) -> NDArray[np.float64]:
    """The specimen's projected potential ``v_z`` (V·Å) on the wave grid, periodic over the
    cell: the inverse FFT of ``Σ_Z ṽ_Z(k) S_Z(k)`` divided by the grid cell's area."""
    transforms = _atom_transforms(geometry)
    spectrum = sum(transforms[z] * s for z, s in structure_factors(atoms, geometry).items())
    return np.asarray(np.fft.ifft2(spectrum).real / geometry.wave_pixels[1] ** 2)


def image(potential: NDArray[np.float64], geometry: Geometry, microscope: Microscope) -> NDArray[np.float64]:
    """The bright-field image intensity (relative to the incident beam) of a specimen with
    this projected potential (on the wave grid): ``|F⁻¹[F[exp(iσ v_z)] A exp(−iχ)]|²``,
    averaged over each detector pixel, and cropped to the image, ``(size, size)``."""
    wave = np.fft.fft2(np.exp(1j * interaction_constant(microscope.voltage) * potential))
    intensity = np.abs(np.fft.ifft2(wave * _transfer(geometry, microscope))) ** 2
    o, n, pad = geometry.oversampling, geometry.size + 2 * geometry.padding, geometry.padding
    pixels = intensity.reshape(n, o, n, o).mean(axis=(1, 3))
    return np.asarray(pixels[pad:pad + geometry.size, pad:pad + geometry.size])


def counts(intensity: NDArray[np.float64], dose: float, pixel: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """Electrons counted per pixel at ``dose`` (e⁻/Å²): Poisson with mean
    ``dose × pixel² × intensity`` (an ideal counting detector: no gain, no read noise)."""
    return rng.poisson(dose * pixel**2 * intensity)
