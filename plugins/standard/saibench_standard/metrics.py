"""Metrics over a finished run's ``Evaluation``: each is evaluated on the test fixture
(``metrics``) and on the validation fixture (``validation_metrics``, for choosing among grid
points); the event-stream metrics read the same events in both."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np

from sail_types import Evaluation, Label, Scalar, metric


@metric(goal="max")
def accuracy(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Share of the fixture's samples whose predicted class is the true class."""
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
    """Seconds of one execution of the compiled training program (every epoch and
    minibatch, data on the device), compilation excluded (``compile_time``): the steady
    state (a second execution, after an untimed warm-up one) when the first execution took
    under 5 s, else the first execution; the ``timing`` event's ``train_clock``
    says which (see ``Evaluation.train_seconds``)."""
    return ev.train_seconds


@metric(goal="min", unit="s")
def compile_time(ev: Evaluation) -> float:
    """Seconds to trace, lower and XLA-compile the training program, recorded apart; whether
    JAX's persistent compilation cache had it (a hit is 5-20x faster) is the ``timing``
    event's ``compile_cache`` (``hit``, ``miss``, ``off``)."""
    return ev.compile_seconds


@metric(goal="max", unit="samples/s")
def inference_throughput(ev: Evaluation) -> float:
    """Test samples predicted per second: the test fixture's size over the median of several
    timed whole-fixture passes, end to end (NumPy in, host-to-device and device-to-host
    transfers included, NumPy out), compiled and warmed up first."""
    return ev.n_test / ev.inference_seconds if ev.inference_seconds > 0 else float("inf")


def _errors(ev: Evaluation) -> np.ndarray:
    return np.abs(np.asarray(ev.y_pred, dtype=np.float64) - np.asarray(ev.y_true, dtype=np.float64))


@metric(goal="min")
def mae(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Mean absolute error on the fixture, in the target's unit."""
    return float(np.mean(_errors(ev)))


@metric(goal="min")
def rmse(ev: Annotated[Evaluation, Scalar()]) -> float:
    """Root mean squared error on the fixture."""
    return float(np.sqrt(np.mean(_errors(ev) ** 2)))


@metric(goal="min")
def p99_error(ev: Annotated[Evaluation, Scalar()]) -> float:
    """99th percentile of the absolute error: the tail a mean hides."""
    return float(np.percentile(_errors(ev), 99))


def _events(ev: Evaluation, kind: str) -> list[dict[str, Any]]:
    return [e for e in ev.events if e["kind"] == kind]


@metric(goal="min", unit="s", needs=("epochs",))
def time_to_95_accuracy(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Training seconds until validation accuracy first reaches 95 % (infinite if it never
    does), following the evaluation on the validation fixture after each epoch (never the
    test fixture): an iterative metric over the event stream. A method fitted without
    gradients has one ``fit`` event instead: its fit time, if its accuracy reaches 95 %."""
    for event in _events(ev, "epoch") + _events(ev, "fit"):  # in order; the state is "not reached yet"
        if event.get("validation_accuracy", 0.0) >= 0.95:
            return float(event["seconds"])
    return float("inf")


@metric(goal="min", unit="ms")
def latency_p50(ev: Evaluation) -> float:
    """Median time to predict one sample, end to end (NumPy in, host-to-device and
    device-to-host transfers included, NumPy out), over 200 predictions, compiled and
    warmed up first."""
    (event,) = _events(ev, "latency")
    return float(np.percentile(event["seconds"], 50) * 1000)


@metric(goal="min", unit="ms")
def latency_p99(ev: Evaluation) -> float:
    """99th percentile of the time to predict one sample (end to end, as ``latency_p50``):
    the tail users feel."""
    (event,) = _events(ev, "latency")
    return float(np.percentile(event["seconds"], 99) * 1000)


@metric(goal="min", unit="MiB")
def peak_host_memory(ev: Evaluation) -> float:
    """Peak resident memory of the run's process (data, model, JAX runtime)."""
    (event,) = _events(ev, "memory")
    return float(event["peak_host_bytes"] / 2**20)


@metric(goal="min", unit="MiB")
def peak_device_memory(ev: Evaluation) -> float:
    """Peak memory in use on the accelerator, where JAX reports it (NaN on CPU)."""
    (event,) = _events(ev, "memory")
    return float("nan") if event["device_bytes"] is None else float(event["device_bytes"] / 2**20)


@metric(goal="max", hard_fail=0.5)
def sanity_accuracy(ev: Annotated[Evaluation, Label("k")]) -> float:
    """Accuracy with a hard-fail threshold: below 50 % on test the run is recorded as failed
    (a broken model or pipeline), its metrics kept for inspection."""
    return float(np.mean(ev.y_pred == ev.y_true))
