"""Metrics with context: skill against the reference baseline and the training targets
(``Evaluation.reference_pred``, ``Evaluation.y_train``), per group of samples
(``Evaluation.meta``), and per-class quality.

A metric that lacks its context (no reference, no training targets, no groups) returns
NaN: not measured."""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Evaluation, Forecast, Label, Scalar, metric

NAN = float("nan")


def _f64(a: Any) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64).ravel()


def _nse_of(y_true: Any, y_pred: Any) -> float:
    y, p = _f64(y_true), _f64(y_pred)
    spread = np.sum((y - y.mean()) ** 2)
    return float(1.0 - np.sum((y - p) ** 2) / spread) if spread > 0 else NAN


def _nse(ev: Evaluation) -> float:
    return _nse_of(ev.y_true, ev.y_pred)


def _nnse_of(y_true: Any, y_pred: Any) -> float:
    return 1.0 / (2.0 - _nse_of(y_true, y_pred))


@metric(goal="max")
def r2(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Coefficient of determination R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)², ȳ the mean of the
    fixture's targets (as ``sklearn.metrics.r2_score``); NaN for constant targets."""
    return _nse(ev)


@metric(goal="max")
def nse(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Nash–Sutcliffe efficiency NSE = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² (Nash & Sutcliffe 1970,
    J. Hydrol. 10(3)): 1 is perfect, 0 is no better than the observed mean, below 0 worse.
    Numerically R² over the fixture; hydrology's name for it."""
    return _nse(ev)


@metric(goal="max")
def nnse(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Normalised Nash–Sutcliffe efficiency NNSE = 1 / (2 − NSE) (Nossent & Bauwens 2012,
    EGU 14, 237), in (0, 1], 0.5 where NSE = 0: the MLCommons Science earthquake metric."""
    return _nnse_of(ev.y_true, ev.y_pred)


@metric(goal="max")
def nnse_per_group(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean over groups of the NNSE within each group, 1/G · Σ_g 1 / (2 − NSE_g), NSE_g
    taken over group g's samples against their own mean (the MLCommons Science earthquake
    benchmark scores each location apart and averages): a well-fitted busy region cannot
    hide a poorly fitted quiet one.

    The groups are the evaluated fixture's per-sample metadata ``meta["group"]`` (one label
    per sample): a problem that returns ``Test(x, y, meta={"group": location})`` gets this
    metric on its test fixture (and on a validation fixture carved from a ``Train`` with the
    same key). NaN (not measured) without a ``"group"`` key; a group whose NSE is undefined
    (constant targets, e.g. a single sample) is left out of the mean."""
    groups = ev.meta.get("group")
    if groups is None:
        return NAN
    labels = np.asarray(groups)
    if labels.ndim != 1:
        raise ValueError(f'meta["group"] holds one label per sample (shape (n,)), not shape {labels.shape}')
    y, p = np.asarray(ev.y_true), np.asarray(ev.y_pred)
    defined = [v for g in np.unique(labels) if not math.isnan(v := _nnse_of(y[labels == g], p[labels == g]))]
    return float(np.mean(defined)) if defined else NAN


def _skill(ev: Evaluation, power: int) -> float:
    if ev.reference_pred is None:
        return NAN
    y = _f64(ev.y_true)
    error = np.mean(np.abs(y - _f64(ev.y_pred)) ** power)
    reference = np.mean(np.abs(y - _f64(ev.reference_pred)) ** power)
    return float(1.0 - error / reference) if reference > 0 else NAN


@metric(goal="max")
def mae_skill(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Skill score against the run's reference baseline on mean absolute error,
    1 − MAE / MAE_reference (Murphy 1988, Mon. Wea. Rev. 116): 1 is perfect, 0 no better
    than the reference (training mean, or persistence for ordered data), below 0 worse."""
    return _skill(ev, 1)


@metric(goal="max")
def mse_skill(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Skill score against the run's reference baseline on mean squared error,
    1 − MSE / MSE_reference (Murphy 1988); against the training mean it is close to R²."""
    return _skill(ev, 2)


@metric(goal="min", tasks=(Forecast,))
def mase(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006, Int. J. Forecast. 22(4)):
    MAE on the fixture over the in-sample MAE of the one-step naive forecast on the training
    targets, mean |y_t − y_(t−1)|; below 1 beats the naive forecast. Forecast tasks only
    (the training targets must be in time order)."""
    if ev.y_train is None or np.size(ev.y_train) < 2:
        return NAN
    scale = np.mean(np.abs(np.diff(_f64(ev.y_train))))
    return float(np.mean(np.abs(_f64(ev.y_true) - _f64(ev.y_pred))) / scale) if scale > 0 else NAN


@metric(goal="max")
def worst_class_f1(ev: Annotated[Evaluation, Label("k")]) -> float:
    """The lowest per-class F1 score, 2·TP / (2·TP + FP + FN), over the classes in truth or
    prediction (``min(sklearn.metrics.f1_score(average=None))``): one number that a
    well-served majority cannot hide, where ``macro_f1`` averages."""
    y, p = np.asarray(ev.y_true).ravel(), np.asarray(ev.y_pred).ravel()
    f1 = [2 * np.sum((p == c) & (y == c)) / (np.sum(p == c) + np.sum(y == c)) for c in np.union1d(y, p)]
    return float(min(f1))


@metric(goal="min")
def ece(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Expected calibration error, top-label, 15 equal-width confidence bins (Guo et al.
    2017, "On Calibration of Modern Neural Networks", ICML; Naeini et al. 2015):
    Σ_b |B_b|/n · |accuracy(B_b) − mean confidence(B_b)|, the confidence being the highest
    class score, bin b holding confidences in (b/15, (b+1)/15]."""
    scores = np.asarray(ev.scores, dtype=np.float64)
    scores = scores.reshape(-1, scores.shape[-1])
    if scores.min() < -1e-6 or np.abs(scores.sum(axis=1) - 1.0).max() > 1e-3:
        raise ValueError("ece reads class probabilities, but these scores are not (negative, or rows not summing to 1); "
                         "a fitted method returns probabilities, e.g. vote shares or a softmax")
    confidence, hit = scores.max(axis=1), (scores.argmax(axis=1) == np.asarray(ev.y_true).ravel())
    bins = np.clip(np.ceil(confidence * 15).astype(int) - 1, 0, 14)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.mean() * abs(hit[inside].mean() - confidence[inside].mean())
    return float(total)
