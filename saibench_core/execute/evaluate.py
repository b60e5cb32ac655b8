"""Metrics of a finished run, each evaluated on its own, on the validation and test fixtures.

A metric is plugin code: one that raises (even ``SystemExit``) or returns anything but a
real number fails alone, named, and the run keeps the others. A run all of whose metrics
fail, or one that crosses a metric's hard-fail threshold, is a failed run. Trained and
fitted runs share this one policy.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sail_types import Evaluation, Task

from ..discovery import Catalog
from ..errors import SaibenchError
from .reference import Reference

NAN = float("nan")


# a reference baseline is no run: it has no clocks, epochs or events of its own
UNMEASURED = {"train_seconds": NAN, "compile_seconds": NAN, "inference_seconds": NAN, "epochs": 0, "events": ()}


class HardFail(SaibenchError):
    """A metric crossed its hard-fail threshold; the run fails, its metrics are kept."""

    def __init__(self, reason: str, metrics: dict[str, float]) -> None:
        super().__init__(reason)
        self.metrics = metrics


class MetricsFailed(SaibenchError, RuntimeError):
    """Every metric of a run failed: the run has no result to rank."""


def hard_failures(catalog: Catalog, metrics: Mapping[str, float]) -> list[str]:
    """Each metric whose value is worse than its declared ``hard_fail`` threshold."""
    out = []
    for name, value in metrics.items():
        spec = catalog.require("metric", name).spec
        if spec.hard_fail is None:
            continue
        if (value < spec.hard_fail) if spec.goal == "max" else (value > spec.hard_fail):
            out.append(f"{name} = {value:.4g} is {'below' if spec.goal == 'max' else 'above'} its hard-fail threshold {spec.hard_fail:g}")
    return out


def evaluate(catalog: Catalog, metrics: Sequence[str], **fields: Any) -> tuple[dict[str, float], dict[str, str]]:
    """Each metric on one ``Evaluation(**fields)``: ``(values, failures)`` by metric name."""
    evaluation = Evaluation(**fields)
    values: dict[str, float] = {}
    failed: dict[str, str] = {}
    for name in metrics:
        try:
            value = catalog.require("metric", name).fn(evaluation)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - plugin code; even SystemExit fails only this metric
            failed[name] = f"metric {name!r} raised {type(exc).__name__}: {exc}"
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            failed[name] = (f"metric {name!r} returned {value!r} ({type(value).__name__}); a metric returns a float "
                            "(NaN: not measured, ±inf: never reached)")
            continue
        values[name] = float(value)
    return values, failed


def reference_metrics(catalog: Catalog, metrics: Sequence[str]) -> list[str]:
    """The metrics a reference baseline is scored on: those of its predictions, which are
    restricted to a kind of target (``Annotated[Evaluation, Label("k")]``) and need no
    extra events. Unrestricted ones (clocks, memory) measure the method's run, not its
    predictions."""
    return [m for m in metrics if (d := catalog.require("metric", m)).input is not None and not d.spec.needs]


def _reference_outputs(reference: Reference | None, inputs: Mapping[str, Any] | None, split: str, scores: Any, task: Task,
                       shape: tuple[int, ...]) -> tuple[Any, Any] | None:
    """The reference's ``(scores, predictions)`` on one fixture, shaped as the method's;
    ``None`` without a reference, or where its outputs do not fit them (a run never fails
    for its baseline)."""
    from ..compile.inference import predictions

    if reference is None or inputs is None or task.prediction is None:
        return None
    try:
        ref_scores = reference.scores(inputs[split], scores)
        return ref_scores, predictions(ref_scores, task.prediction, shape)
    except (ValueError, TypeError, IndexError):
        return None


def evaluate_run(catalog: Catalog, metrics: Sequence[str], task: Task, fixtures: Mapping[str, tuple[Any, Any]],
                 shared: Mapping[str, Any], *, y_train: Any = None, reference: Reference | None = None,
                 inputs: Mapping[str, Any] | None = None, units: str = "",
                 meta: Mapping[str, Mapping[str, Any]] | None = None,
                 gradients: Mapping[str, Mapping[str, Any]] | None = None,
                 observations: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Every metric on the validation and test fixtures, and the prediction metrics on the
    reference baseline's predictions too.

    Args:
        fixtures: ``{"validation": (y_true, scores), "test": (y_true, scores)}``.
        shared: the ``Evaluation`` fields both fixtures share (clocks, sizes, events).
        y_train: the training targets (``Evaluation.y_train``).
        reference: the task's reference baseline fitted on the training fixture, and
            ``inputs``, the problem's inputs of each fixture (by name) it predicts from.
        units: the targets' unit, as the problem declares it.
        meta: each fixture's per-sample metadata, by fixture name (``Evaluation.meta``;
            a fixture left out has none).
        gradients: the model's values of the problem's gradients on each fixture, by
            fixture name (``Evaluation.gradients``); the reference baseline's are zeros.
        observations: the problem's experiments' observations (``Evaluation.observations``),
            given to the test fixture's evaluation only.

    Returns:
        ``metrics`` (test), ``validation_metrics`` and ``failed_metrics`` (test, with
        reasons); with a reference, ``reference`` (its name), ``reference_metrics`` (test)
        and ``reference_validation_metrics``.

    Raises:
        MetricsFailed: every metric failed on the test fixture.
        HardFail: a test metric crossed its hard-fail threshold.
    """
    from ..compile.inference import predictions

    assert task.prediction is not None
    out: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    baseline: dict[str, dict[str, float]] = {}
    judged = reference_metrics(catalog, metrics) if reference is not None else []
    for split, (y_true, scores) in fixtures.items():
        context: dict[str, Any] = {"y_train": y_train, "units": units, "fixture": split,
                                   "meta": dict((meta or {}).get(split, {}))}
        model_gradients = dict((gradients or {}).get(split, {}))
        outputs = _reference_outputs(reference, inputs, split, scores, task, y_true.shape)
        if outputs is not None:
            assert reference is not None
            ref_scores, ref_pred = outputs
            context |= {"reference": reference.name, "reference_scores": ref_scores, "reference_pred": ref_pred}
            constant = {name: np.zeros_like(values) for name, values in model_gradients.items()}  # a constant's gradient
            baseline[split], _ = evaluate(catalog, judged, y_true=y_true, scores=ref_scores, y_pred=ref_pred,
                                          **{**shared, **UNMEASURED, **context}, gradients=constant)
        out[split] = evaluate(catalog, metrics, y_true=y_true, scores=scores,
                              y_pred=predictions(scores, task.prediction, y_true.shape), **shared, **context,
                              gradients=model_gradients, observations=dict(observations or {}) if split == "test" else {})
    (values, failed), (validation, _) = out["test"], out["validation"]
    if metrics and not values:
        raise MetricsFailed("every metric failed: " + "; ".join(failed.values()))
    if hard := hard_failures(catalog, values):
        raise HardFail("; ".join(hard), values)
    result: dict[str, Any] = {"metrics": values, "validation_metrics": validation, "failed_metrics": failed}
    if reference is not None and baseline.keys() == fixtures.keys():
        result |= {"reference": reference.name, "reference_metrics": baseline["test"],
                   "reference_validation_metrics": baseline["validation"]}
    return result
