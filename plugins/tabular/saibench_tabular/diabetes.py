"""Diabetes progression: the classic small regression benchmark (Efron et al., 2004, "Least
Angle Regression"), real clinical data that ships with scikit-learn: 442 patients, ten
baseline variables (age, sex, body-mass index, mean blood pressure and six blood-serum
measurements), and a quantitative measure of disease progression one year after baseline.

Features are standardised with the *training* split's mean and standard deviation only, so
nothing about the test patients leaks into training; the target keeps its own scale (25 to
346), so MAE and RMSE read in the study's units and the reference baseline (the training
mean) scores about 64 MAE. Ordinary least squares is the literature's yardstick here: a
linear model explains about half the variance (R² ≈ 0.5), which no method is known to
beat by much on these ten variables.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Dataset, Regress, Scalar, Tensor, Test, Train, problem

Patients = Annotated[NDArray[np.float32], Tensor(10)]
Progression = Annotated[NDArray[np.float32], Scalar()]


@problem(task=Regress, field="medicine", kind="cases", unit="progression score")
def diabetes(*, split_seed: int = 0, test_fraction: float = 0.25) -> Dataset[Patients, Progression]:
    """Predict diabetes progression one year after baseline from ten baseline variables.

    Args:
        split_seed: seed of the random train/test split of the 442 patients.
        test_fraction: share of patients held out for testing.
    """
    from sklearn.datasets import load_diabetes  # lazy: describing must stay cheap

    raw = load_diabetes(scaled=False)
    x, y = np.asarray(raw.data, dtype=np.float64), np.asarray(raw.target, dtype=np.float64)
    order = np.random.default_rng(split_seed).permutation(len(y))
    n_test = round(test_fraction * len(y))
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    z = ((x - mean) / std).astype(np.float32)
    targets = y.astype(np.float32)
    checksum = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
    return Dataset(Train(z[train], targets[train]), Test(z[test], targets[test]), checksum=checksum)
