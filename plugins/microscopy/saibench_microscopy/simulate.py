"""Simulated HRTEM images of gold nanoparticles on carbon: the clean image, its noisy
recording at a dose, and the particles' mask, image by image from a seed.

Image ``i`` of seed ``s`` (an int or a tuple of ints) comes from its own child of
``numpy.random.SeedSequence(s)``, split into one stream for the specimen and one for the
counting noise: the same image whatever ``n``, and the same specimen at every dose (only
its noise differs).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from .imaging import Microscope, counts, image, projected_potential
from .specimen import Geometry, footprint, specimen

Progress = Callable[[float, str], None]
GEOMETRY, MICROSCOPE = Geometry(), Microscope()  # the defaults: 64 × 64 pixels of 0.4 Å, 300 kV at Scherzer focus


@attrs.frozen
class Images:
    """``n`` simulated fields of view, each ``(size, size)``.

    Attributes:
        clean: the noise-free intensity relative to the incident beam (vacuum: 1), the
            expected value of ``noisy``.
        noisy: electrons counted per pixel divided by the expected count in vacuum,
            ``dose × pixel²``: the recorded image on the same scale as ``clean``.
        mask: the particles' projected footprint (``specimen.footprint``).
        expected_counts: ``dose × pixel²``, the mean count of a vacuum pixel.
    """

    clean: NDArray[np.float32]
    noisy: NDArray[np.float32]
    mask: NDArray[np.bool_]
    expected_counts: float


def simulate(n: int, seed: int | tuple[int, ...], *, dose: float, geometry: Geometry = GEOMETRY, microscope: Microscope = MICROSCOPE,
             progress: Progress | None = None) -> Images:
    """Simulate ``n`` images from ``seed`` at ``dose`` electrons per Å².

    Args:
        n: how many images.
        seed: the seed of the whole set, an int or a tuple of them (see the module's docstring).
        dose: electrons per Å² of the incident beam.
        geometry, microscope: the field of view and the microscope's settings.
        progress: called as ``progress(fraction done, what)`` now and then.

    Raises:
        ValueError: ``dose`` is not a positive finite number, or ``n`` is negative.
    """
    if not (np.isfinite(dose) and dose > 0):
        raise ValueError(f"simulate(dose={dose!r}): the dose is a positive number of electrons per Å², e.g. dose=100.0")
    if n < 0:
        raise ValueError(f"simulate(n={n!r}): the number of images is >= 0")
    shape = (n, geometry.size, geometry.size)
    clean, noisy, mask = np.empty(shape, np.float32), np.empty(shape, np.float32), np.empty(shape, bool)
    expected = dose * geometry.pixel**2
    # the structure factors' small matrix products ran 40x slower on BLAS threads of a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        for i, child in enumerate(np.random.SeedSequence(seed).spawn(n)):
            sample_rng, noise_rng = (np.random.default_rng(s) for s in child.spawn(2))
            atoms = specimen(sample_rng, geometry)
            clean[i] = intensity = image(projected_potential(atoms, geometry), geometry, microscope)
            noisy[i] = counts(intensity, dose, geometry.pixel, noise_rng) / expected
            mask[i] = footprint(atoms.columns, geometry)
            if progress is not None and (i + 1) % 64 == 0:
                progress((i + 1) / n, f"simulated {i + 1} of {n} images")
    return Images(clean, noisy, mask, expected)
