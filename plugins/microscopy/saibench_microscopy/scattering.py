"""Electron scattering by atoms: the relativistic wavelength, the interaction constant, and
each element's projected potential in Fourier space from its electron scattering factor.

An atom's projected potential ``v_z(x, y) = ∫ V dz`` has the 2-D Fourier transform
``(h² / 2π m₀ e) · f_e(k)`` (first Born approximation, Kirkland 2020, *Advanced Computing
in Electron Microscopy*, 3rd ed., §5.1), where ``f_e`` is the electron scattering factor at
spatial frequency ``k`` (Å⁻¹). ``f_e`` is the five-Gaussian parametrisation of Peng, Ren,
Dudarev & Whelan (1996, *Acta Cryst.* A52, 257-276; *International Tables for
Crystallography* C, Table 4.3.2.2), ``f_e(s) = Σ aᵢ exp(−bᵢ s²)`` with ``s = k / 2``, and
thermal vibration enters as a Debye-Waller factor ``exp(−B s²)``, i.e. each atom's potential
is smeared by its mean-square displacement (no thermal diffuse scattering). The potential
so built is band limited by the pixel grid: sampled without aliasing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import constants

CARBON, GOLD = 6, 79

# Peng et al. (1996): a_i (Å) and b_i (Å²) of f_e(s) = Σ a_i exp(-b_i s²), s = sin(θ)/λ in Å⁻¹
PENG_1996: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {
    CARBON: ((0.0489, 0.2091, 0.7537, 1.1420, 0.3555), (0.1140, 1.0825, 5.4281, 17.8811, 51.1341)),
    GOLD: ((0.3055, 1.3945, 2.9617, 3.8990, 2.0026), (0.0596, 0.5827, 3.1035, 11.9693, 47.9106)),
}

# Debye-Waller B = 8π²<u²> (Å²), typical room-temperature values: gold ~0.6, amorphous carbon ~0.5
DEBYE_WALLER = {CARBON: 0.5, GOLD: 0.6}

# h² / (2π m₀ e) in V·Å²: turns a scattering factor (Å) into a projected potential transform (V·Å³)
POTENTIAL_PER_SCATTERING_FACTOR = float(constants.h) ** 2 / (2 * math.pi * float(constants.m_e) * float(constants.e)) * 1e20


def wavelength(voltage: float) -> float:
    """The relativistic de Broglie wavelength (Å) of electrons accelerated through
    ``voltage`` volts: ``h / sqrt(2 m₀ e V (1 + e V / 2 m₀ c²))`` (0.01969 Å at 300 kV)."""
    energy = float(constants.e) * voltage
    rest = float(constants.m_e) * float(constants.c) ** 2
    momentum = math.sqrt(2 * float(constants.m_e) * energy * (1 + energy / (2 * rest)))
    return float(constants.h) / momentum * 1e10


def interaction_constant(voltage: float) -> float:
    """The interaction constant σ (rad / (V·Å)) at ``voltage`` volts: the phase a projected
    potential of 1 V·Å imparts, ``2π m e λ / h²`` with the relativistic mass ``m``
    (Kirkland 2020, eq. 5.6; 6.53e-4 at 300 kV)."""
    mass = float(constants.m_e) * (1 + float(constants.e) * voltage / (float(constants.m_e) * float(constants.c) ** 2))
    return 2 * math.pi * mass * float(constants.e) * wavelength(voltage) * 1e-10 / float(constants.h) ** 2 * 1e-10


def scattering_factor(z: int, k: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """The electron scattering factor ``f_e`` (Å) of element ``z`` at spatial frequencies
    ``k`` (Å⁻¹), Peng et al. (1996), without thermal smearing.

    Raises:
        KeyError: an element without parameters here (carbon and gold have them).
    """
    a, b = (np.asarray(p)[:, None] for p in PENG_1996[z])
    s2 = (np.asarray(k, dtype=np.float64).ravel() / 2) ** 2
    return np.asarray((a * np.exp(-b * s2)).sum(axis=0).reshape(np.shape(k)))


def projected_potential_transform(z: int, k: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """The 2-D Fourier transform (V·Å³) of one thermally smeared atom's projected potential
    at spatial frequencies ``k`` (Å⁻¹): ``(h² / 2π m₀ e) f_e(k) exp(−B k² / 4)``."""
    smearing = np.exp(-DEBYE_WALLER[z] * (np.asarray(k, dtype=np.float64) / 2) ** 2)
    return np.asarray(POTENTIAL_PER_SCATTERING_FACTOR * scattering_factor(z, k) * smearing)
