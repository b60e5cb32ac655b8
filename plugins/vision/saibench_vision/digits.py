"""Handwritten digits: the MNIST "hello world" of the SAIBench paper, on data that ships
with scikit-learn (1,797 8×8 images from UCI's optdigits), so it needs no download."""

from __future__ import annotations

import hashlib
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Classify, Dataset, Image, Label, Test, Train, problem

DigitImages = Annotated[NDArray[np.float32], Image(8, 8, 1)]
DigitLabels = Annotated[NDArray[np.int32], Label(10)]


@problem(task=Classify, field="vision", kind="cases")
def digits(*, split_seed: int = 0, test_fraction: float = 0.25) -> Dataset[DigitImages, DigitLabels]:
    """Classify 8×8 grey-scale handwritten digits into 0-9 (pixels scaled to [0, 1]).

    Args:
        split_seed: seed of the fixed, stratified train/test split.
        test_fraction: share of each class held out for testing.
    """
    from sklearn.datasets import load_digits  # lazy: describing must stay cheap

    raw = load_digits()
    images = (raw.images.astype(np.float32) / 16.0)[..., None]
    labels = raw.target.astype(np.int32)
    rng = np.random.default_rng(split_seed)
    test_idx = np.concatenate([
        rng.permutation(np.flatnonzero(labels == c))[: round(test_fraction * np.sum(labels == c))]
        for c in range(10)
    ])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    checksum = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(
        train=Train(images[~is_test], labels[~is_test]),
        test=Test(images[is_test], labels[is_test]),
        checksum=checksum,
    )
