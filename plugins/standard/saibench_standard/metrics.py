"""Metrics over a finished run's ``Evaluation``."""

from __future__ import annotations

from typing import Annotated

import numpy as np

from sail_types import Evaluation, Label, Scalar, metric


@metric(goal="max")
def accuracy(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Share of test samples whose predicted class is the true class."""
    return float(np.mean(ev.y_pred == ev.y_true))


@metric(goal="max")
def macro_f1(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Unweighted mean over classes (those in truth or prediction) of the F1 score."""
    scores = []
    for c in np.union1d(ev.y_true, ev.y_pred):
        tp = np.sum((ev.y_pred == c) & (ev.y_true == c))
        fp = np.sum((ev.y_pred == c) & (ev.y_true != c))
        fn = np.sum((ev.y_pred != c) & (ev.y_true == c))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


@metric(goal="min", unit="s")
def train_time(ev: Evaluation) -> float:
    """Wall time of the training phase after warm-up; compilation is ``compile_time``."""
    return ev.train_seconds


@metric(goal="min", unit="s")
def compile_time(ev: Evaluation) -> float:
    """Time to compile the training step (JAX tracing and XLA), recorded apart."""
    return ev.compile_seconds


@metric(goal="max", unit="samples/s")
def inference_throughput(ev: Evaluation) -> float:
    """Test samples predicted per second by the compiled model."""
    return ev.n_test / ev.inference_seconds if ev.inference_seconds > 0 else float("inf")


def _errors(ev: Evaluation) -> np.ndarray:
    return np.abs(np.asarray(ev.y_pred, dtype=np.float64) - np.asarray(ev.y_true, dtype=np.float64))


@metric(goal="min")
def mae(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean absolute error on the test fixture, in the target's unit."""
    return float(np.mean(_errors(ev)))


@metric(goal="min")
def rmse(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Root mean squared error on the test fixture."""
    return float(np.sqrt(np.mean(_errors(ev) ** 2)))


@metric(goal="min")
def p99_error(ev: Annotated[Evaluation, Scalar()]) -> float:
    """99th percentile of the absolute error: the tail a mean hides."""
    return float(np.percentile(_errors(ev), 99))
