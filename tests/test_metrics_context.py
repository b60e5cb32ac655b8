"""Metrics with context, each against an independent implementation: scikit-learn
(r2_score, f1_score, jaccard_score, mean_absolute_error, mean_squared_error),
scikit-image (peak_signal_noise_ratio, structural_similarity), or a hand formula from the
paper (NSE, NNSE, MASE, ECE), written here in another form than the metric's."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from saibench_standard import metrics_image as img
from saibench_standard import metrics_skill as sk
from sklearn import metrics as skm

from saibench_core.discovery import Catalog
from saibench_core.planner import Planner
from sail_types import Evaluation

RNG = np.random.default_rng(0)


def evaluation(y_true: Any, y_pred: Any, scores: Any = None, **context: Any) -> Evaluation:
    scores = y_pred if scores is None else scores
    return Evaluation(np.asarray(y_true), np.asarray(y_pred), np.asarray(scores), 1.0, 0.1, 0.01, 10, len(y_true), 1,
                      **context)


def regression(n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = RNG.normal(size=n)
    return y, y + RNG.normal(scale=0.5, size=n), np.full(n, y.mean() + 0.3)


def test_r2_and_nse_are_sklearns_r2_score() -> None:
    y, p, _ = regression()
    ev = evaluation(y, p)
    assert sk.r2(ev) == pytest.approx(skm.r2_score(y, p))
    nash_sutcliffe = 1 - sum((o - s) ** 2 for o, s in zip(y, p)) / sum((o - np.mean(y)) ** 2 for o in y)
    assert sk.nse(ev) == pytest.approx(nash_sutcliffe)


def test_nnse_is_one_over_two_minus_nse_and_half_at_the_mean() -> None:
    y, p, _ = regression()
    assert sk.nnse(evaluation(y, p)) == pytest.approx(1 / (2 - skm.r2_score(y, p)))
    assert sk.nnse(evaluation(y, np.full_like(y, y.mean()))) == pytest.approx(0.5)


def test_skill_scores_against_the_reference_prediction() -> None:
    y, p, ref = regression()
    ev = evaluation(y, p, reference="training mean", reference_pred=ref)
    assert sk.mae_skill(ev) == pytest.approx(1 - skm.mean_absolute_error(y, p) / skm.mean_absolute_error(y, ref))
    assert sk.mse_skill(ev) == pytest.approx(1 - skm.mean_squared_error(y, p) / skm.mean_squared_error(y, ref))
    assert sk.mae_skill(evaluation(y, ref, reference_pred=ref)) == 0.0
    assert math.isnan(sk.mae_skill(evaluation(y, p)))  # no reference: not measured


def test_mase_scales_by_the_training_naive_forecast() -> None:
    y, p, _ = regression()
    y_train = np.cumsum(RNG.normal(size=50))
    naive = sum(abs(y_train[t] - y_train[t - 1]) for t in range(1, len(y_train))) / (len(y_train) - 1)
    assert sk.mase(evaluation(y, p, y_train=y_train)) == pytest.approx(skm.mean_absolute_error(y, p) / naive)
    assert math.isnan(sk.mase(evaluation(y, p)))


def test_worst_class_f1_is_the_minimum_of_sklearns_per_class_f1() -> None:
    y = RNG.integers(0, 4, size=300)
    p = np.where(RNG.random(300) < 0.7, y, RNG.integers(0, 5, size=300))
    labels = np.union1d(y, p)
    assert sk.worst_class_f1(evaluation(y, p)) == pytest.approx(skm.f1_score(y, p, labels=labels, average=None).min())


def ece_by_hand(y: np.ndarray, probs: np.ndarray, bins: int = 15) -> float:
    """Guo et al. 2017, eq. (3), bin by bin over explicit edges."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.sum() / len(y) * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    return total


def test_ece_matches_the_binned_formula() -> None:
    logits = RNG.normal(size=(500, 5)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([RNG.choice(5, p=row) for row in probs])
    ev = evaluation(y, probs.argmax(axis=1), probs)
    assert sk.ece(ev) == pytest.approx(ece_by_hand(y, probs))
    sure = np.eye(5)[y]  # confident and right: perfectly calibrated
    assert sk.ece(evaluation(y, y, sure)) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="ece reads class probabilities"):
        sk.ece(evaluation(y, probs.argmax(axis=1), logits))  # logits would give an "error" far outside [0, 1]


def images(n: int = 3, h: int = 16, w: int = 12, c: int = 2) -> tuple[np.ndarray, np.ndarray]:
    y = RNG.random((n, h, w, c))
    return y, np.clip(y + RNG.normal(scale=0.1, size=y.shape), 0, 1)


def test_psnr_and_ssim_are_scikit_images() -> None:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    y, p = images()
    r = y.max() - y.min()
    ev = evaluation(y, p)
    assert img.psnr(ev) == pytest.approx(peak_signal_noise_ratio(y, p, data_range=r))
    expected = np.mean([structural_similarity(a, b, channel_axis=-1, data_range=r) for a, b in zip(y, p)])
    assert img.ssim(ev) == pytest.approx(expected, rel=1e-9)
    assert math.isnan(img.ssim(evaluation(*images(h=6))))


def test_iou_and_dice_are_sklearns_jaccard_and_f1_on_masks() -> None:
    y, p = images()
    a, b = (y > 0.5).ravel(), (p > 0.5).ravel()
    ev = evaluation(y, p)
    assert img.iou(ev) == pytest.approx(skm.jaccard_score(a, b))
    assert img.dice(ev) == pytest.approx(skm.f1_score(a, b))


def test_metrics_attach_by_target_kind_and_task(catalog: Catalog) -> None:
    planner = Planner(catalog, contained=False)
    digits, atoms = (catalog.get("problem", n) for n in ("digits", "atom_energies"))
    assert digits is not None and atoms is not None
    on_digits, on_atoms = planner.attached(digits)[0], planner.attached(atoms)[0]
    assert {"worst_class_f1", "ece"} <= set(on_digits) and not {"r2", "psnr", "ssim", "iou", "dice"} & set(on_digits)
    assert {"r2", "nse", "nnse", "mae_skill", "mse_skill"} <= set(on_atoms)
    assert not {"mase", "psnr", "ece"} & set(on_atoms)  # mase: Forecast tasks only
