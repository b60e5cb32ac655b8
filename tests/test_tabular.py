"""The bundled tabular problem: real diabetes data, split without leakage, and the linear
yardstick of the literature reproduced on its splits."""

from __future__ import annotations

import numpy as np
from saibench_tabular import diabetes
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score


def test_diabetes_splits_every_patient_once_and_standardises_on_training_data_only() -> None:
    data = diabetes(split_seed=3)
    assert data.train.x.shape == (332, 10) and data.test.x.shape == (110, 10)  # round(0.25 × 442)
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.float32
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1.0, atol=1e-5)
    assert np.abs(data.test.x.mean(axis=0)).max() > 1e-3  # the test patients did not set the scale
    raw = load_diabetes(scaled=False).target
    assert sorted(np.concatenate([data.train.y, data.test.y]).tolist()) == sorted(raw.astype(np.float32).tolist())
    again = diabetes(split_seed=3)
    assert np.array_equal(again.test.y, data.test.y) and not np.array_equal(diabetes(split_seed=4).test.y, data.test.y)


def test_least_squares_explains_about_half_the_variance_as_the_literature_reports() -> None:
    r2 = []
    for seed in range(5):
        data = diabetes(split_seed=seed)
        fitted = LinearRegression().fit(data.train.x, data.train.y)
        r2.append(r2_score(data.test.y, fitted.predict(data.test.x)))
    assert 0.35 < float(np.median(r2)) < 0.6  # Efron et al. 2004; scikit-learn's user guide
