"""The microscopy problems: denoise low-dose HRTEM images of gold nanoparticles on carbon,
and segment the particles from them (after the SAIBench paper's electron-microscopy case
study and SciMLBench's ``em_denoise``; the setting follows Groschner et al. 2021,
*Microsc. Microanal.* 27, 549: HRTEM of Au nanoparticles on amorphous carbon).

Every image is simulated (``simulate``): the training, validation and test images come
from three different seeds (``SeedSequence([split_seed, role])``), so no image is in two
fixtures, and ``saibench run --repeat N --vary split`` draws all three afresh. Inputs are
the recorded counts divided by the vacuum's expected count, ``dose × pixel²``, so vacuum
reads 1 at every dose and a denoiser's target, the clean image, is the input's expected
value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Dataset, Denoise, Image, InvalidValue, Segment, Suggest, Test, Train, Validation, problem

from .simulate import Images, simulate
from .specimen import Geometry

SIZE = Geometry().size
DOSE = 100.0  # e⁻/Å²: 16 electrons in a vacuum pixel of 0.4 Å, low-dose HRTEM
DOSES = (10.0, 30.0, 100.0, 300.0, 1000.0)  # a dose study's grid (see the README)
LABEL_BUDGETS = [1 / 32, 1 / 8, 1 / 2, 1.0]  # the sample-efficiency curve's labelled fractions: 8 to 256 images
TRAIN, VALIDATION, TEST, LABELLED = range(4)  # the roles' seeds

NoisyImages = Annotated[NDArray[np.float32], Image(SIZE, SIZE, 1)]
CleanImages = Annotated[NDArray[np.float32], Image(SIZE, SIZE, 1)]
# one class index per pixel (0 support, 1 particle); as a model's output, a score per class
ParticleMasks = Annotated[NDArray[np.int32], Image(SIZE, SIZE, 2)]


def _check(who: str, dose: float, sizes: dict[str, int]) -> None:
    if isinstance(dose, bool) or not isinstance(dose, (int, float)) or not np.isfinite(dose) or dose <= 0:
        raise InvalidValue(f"problem {who}(dose={dose!r})", "the dose is a positive number of electrons per Å², e.g. dose=100.0")
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidValue(f"problem {who}({name}={n!r})", f"{name} is a whole number of images >= 1, e.g. {name}=64")


def _simulated(split_seed: int, dose: float, sizes: dict[int, int],
               progress: Callable[[float, str], None] | None) -> dict[int, Images]:
    """The images of each role (``TRAIN``, ``VALIDATION``, ``TEST``: how many), each role
    from its own seed."""
    out, done, total = {}, 0, sum(sizes.values())
    for role, n in sizes.items():
        out[role] = simulate(n, (split_seed, role), dose=dose)
        done += n
        if progress is not None:
            progress(done / total, f"simulated {done} of {total} images")
    return out


def _checksum(*arrays: NDArray[np.generic]) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


@problem(task=Denoise, field="microscopy", kind="setting")
def particle_denoise(*, dose: float = DOSE, n_train: int = 256, n_validation: int = 64, n_test: int = 64, split_seed: int = 0,
                     progress: Callable[[float, str], None] | None = None) -> Dataset[NoisyImages, CleanImages]:
    """Denoise a low-dose HRTEM image of gold nanoparticles on carbon: Poisson-noisy image
    in, the noise-free image out (both relative to the incident beam, vacuum = 1), 64 × 64
    pixels of 0.4 Å.

    Args:
        dose: electrons per Å² (``DOSES`` lists a study's grid: 10 to 1000).
        n_train, n_validation, n_test: images in each fixture.
        split_seed: the seed the three fixtures' images are drawn from.
        progress: the engine's progress callback.
    """
    _check("particle_denoise", dose, {"n_train": n_train, "n_validation": n_validation, "n_test": n_test})
    images = _simulated(split_seed, dose, {TRAIN: n_train, VALIDATION: n_validation, TEST: n_test}, progress)
    fixtures = {role: (im.noisy[..., None], im.clean[..., None]) for role, im in images.items()}
    return Dataset(Train(*fixtures[TRAIN]), Test(*fixtures[TEST]), validation=Validation(*fixtures[VALIDATION]),
                   checksum=_checksum(*(a for pair in fixtures.values() for a in pair)))


def labelled_subset(n: int, labels: float, split_seed: int) -> NDArray[np.intp]:
    """The indices (sorted) of the ``max(1, round(labels × n))`` labelled training images,
    a seeded random subset."""
    count = max(1, round(labels * n))
    rng = np.random.default_rng(np.random.SeedSequence((split_seed, LABELLED)))
    return np.sort(rng.choice(n, size=count, replace=False))


@problem(task=Segment, field="microscopy", kind="setting", label_budget="labels")
def particle_segment(*, dose: float = DOSE, labels: float = Suggest(LABEL_BUDGETS), n_train: int = 256, n_validation: int = 64,
                     n_test: int = 64, split_seed: int = 0, progress: Callable[[float, str], None] | None = None) -> Dataset[NoisyImages, ParticleMasks]:
    """Segment the gold nanoparticles of a low-dose HRTEM image: the noisy image in (as
    ``particle_denoise``'s input), each pixel's class out (1 inside a particle's projected
    footprint, 0 on the carbon support).

    Args:
        dose: electrons per Å².
        labels: the fraction of the ``n_train`` simulated training images that are labelled
            and given for training (a seeded subset, at least one image; the rest are not
            in the fixture), for sample-efficiency studies: by default each of
            ``LABEL_BUDGETS``, 1/32 ... 1.
        n_train, n_validation, n_test: simulated training images (before the labelled
            subset is taken), validation and test images (all labelled).
        split_seed: the seed the fixtures' images and the labelled subset are drawn from.
        progress: the engine's progress callback.
    """
    _check("particle_segment", dose, {"n_train": n_train, "n_validation": n_validation, "n_test": n_test})
    if isinstance(labels, bool) or not isinstance(labels, (int, float)) or not 0 < labels <= 1:
        raise InvalidValue(f"problem particle_segment(labels={labels!r})", "labels is the fraction of training images "
                           "that are labelled, in (0, 1], e.g. labels=0.125")
    images = _simulated(split_seed, dose, {TRAIN: n_train, VALIDATION: n_validation, TEST: n_test}, progress)
    fixtures = {role: (im.noisy[..., None], im.mask.astype(np.int32)) for role, im in images.items()}
    keep = labelled_subset(n_train, labels, split_seed)
    train = (fixtures[TRAIN][0][keep], fixtures[TRAIN][1][keep])
    return Dataset(Train(*train), Test(*fixtures[TEST]), validation=Validation(*fixtures[VALIDATION]),
                   checksum=_checksum(*train, *(a for role in (VALIDATION, TEST) for a in fixtures[role])))
