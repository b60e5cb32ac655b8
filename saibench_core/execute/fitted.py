"""A BenchPod's run of a model fitted without gradients (``sail_types.Fitted``).

The pod loads, checks, carves and converts the fixtures as for any run, then hands them
here: the model's factory is built, its ``fit`` called on the training fixture (the training
clock; nothing is compiled, so the compile time is 0), and its predictor evaluated on the
validation and test fixtures with the same checks (shape, finiteness), clocks and metrics
as a trained network. The run's trainer is the ``fit`` pseudo-trainer: no epochs, no
learning rate, and ``fitted`` in the result says how it was fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sail_types import Task, Train

from ..discovery import Catalog, Descriptor
from ..fit import fit_timed, fitted_of, latencies, predict
from ..planner import Run
from ..planner.compose import build
from .asks import Asked, Asks
from .evaluate import evaluate_run
from .events import closing
from .pod import Phases, result

COMPILE_CACHE = "none"  # nothing compiled: the timing event's compile_cache for fitted runs


def _events(outcome: Any, task: Task, y_val: NDArray[Any], val_predictions: NDArray[Any], timing: dict[str, Any],
            inference: NDArray[Any], latency: NDArray[Any], device: Any) -> list[dict[str, Any]]:
    """The fitted run's event stream: ``fit`` (how, seconds, and for classes the validation
    accuracy after it), then the events every run ends with (``events.closing``)."""
    fit: dict[str, Any] = {"kind": "fit", "how": outcome.how, "seconds": outcome.train_seconds}
    if task.prediction == "argmax":
        fit["validation_accuracy"] = float(np.mean(val_predictions == y_val))
    return [fit, *closing(timing, inference, latency, device)]


def execute_fitted(catalog: Catalog, run: Run, model: Descriptor, task: Task, fixtures: Sequence[tuple[NDArray[Any], NDArray[Any]]],
                   phases: Phases, device: Any, recorded: Mapping[str, Any], context: Mapping[str, Any],
                   train_meta: Mapping[str, Any] | None = None, asks: Asks | None = None) -> dict[str, Any]:
    """Fit, predict and evaluate one run of a ``Fitted`` model (see the module docstring).

    Args:
        fixtures: ``(x, y)`` of train (after the carve), validation and test, converted.
        phases: the pod's phase clocks; device: the JAX device the pod runs on.
        recorded: what the pod records for every run (checksums, chain, carve, device...).
        context: ``evaluate_run``'s context (training targets, reference baseline, unit:
            ``reference.run_context``; each fixture's metadata).
        train_meta: the training fixture's metadata, handed to ``fit`` with it
            (``train.meta``: true gradients such as forces, groups, weights).
        asks: the problem's gradients and experiments (``execute.asks``).

    Returns:
        the pod's result dict (``execute``'s), with ``fitted`` (the ``how`` text) and no
        epochs, weights or compile cache.

    Raises:
        FitError: the factory or ``fit`` returned something the engine cannot use.
        NonFinite: a prediction is NaN or infinite.
        MetricsFailed: every metric failed.
        HardFail: a test metric crossed its hard-fail threshold.
    """
    from ..compile.finite import check_predictions
    from ..compile.inference import predictions

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = fixtures
    assert model.output is not None and task.prediction is not None
    shape = model.output.shape(run.dims)
    with phases("build"):
        fitted = fitted_of(model.name, build(catalog, model, run.dims, run.hyper.get("model", {}), run.fills))
    with phases("fit"):
        outcome = fit_timed(model.name, fitted, Train(x_train, y_train, meta=dict(train_meta or {})), run.seed)
    with phases("predict"):
        scores, inference = predict(model.name, outcome.predictor, x_test, shape, "test")
        check_predictions(scores, "test")
        val_scores, _ = predict(model.name, outcome.predictor, x_val, shape, "validation", passes=0)
        check_predictions(val_scores, "validation")
        latency = latencies(outcome.predictor, x_test)
    with phases("experiments"):
        asked = asks.conduct(asks.fitted_model(model.name, outcome.predictor, catalog, run)) if asks is not None else Asked()
    val_pred = predictions(val_scores, task.prediction, y_val.shape)
    timing = {"kind": "timing", "compile_seconds": 0.0, "compile_cache": COMPILE_CACHE, "train_seconds": outcome.train_seconds,
              "train_clock": outcome.train_clock, "first_execution_seconds": outcome.first_execution_seconds}
    with phases("observe"):
        events = tuple(_events(outcome, task, y_val, val_pred, timing, inference, latency, device))
    shared = {"train_seconds": outcome.train_seconds, "compile_seconds": 0.0, "inference_seconds": float(np.median(inference)),
              "n_train": len(x_train), "n_validation": len(x_val), "n_test": len(x_test), "epochs": 0, "events": events}
    with phases("metrics"):
        evaluated = evaluate_run(catalog, run.metrics, task, {"validation": (y_val, val_scores), "test": (y_test, scores)}, shared,
                                 **context, **asked.evaluation)
    return {**result(evaluated, shared, timing, inference, recorded, phases), **asked.record, "fitted": outcome.how, "weights": None,
            "epoch_losses": []}
