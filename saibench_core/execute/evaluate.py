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

from sail_types import Evaluation, Task

from ..discovery import Catalog, Descriptor
from ..errors import SaibenchError, UsageError


class HardFail(SaibenchError):
    """A metric crossed its hard-fail threshold; the run fails, its metrics are kept."""

    def __init__(self, reason: str, metrics: dict[str, float]) -> None:
        super().__init__(reason)
        self.metrics = metrics


class MetricsFailed(SaibenchError, RuntimeError):
    """Every metric of a run failed: the run has no result to rank."""


def _metric(catalog: Catalog, name: str) -> Descriptor:
    found = catalog.get("metric", name)
    if found is None:
        raise UsageError(f"metric {name!r} is no longer installed; re-run `saibench solve`")
    return found


def hard_failures(catalog: Catalog, metrics: Mapping[str, float]) -> list[str]:
    """Each metric whose value is worse than its declared ``hard_fail`` threshold."""
    out = []
    for name, value in metrics.items():
        spec = _metric(catalog, name).spec
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
            value = _metric(catalog, name).fn(evaluation)
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


def evaluate_run(catalog: Catalog, metrics: Sequence[str], task: Task, fixtures: Mapping[str, tuple[Any, Any]],
                 shared: Mapping[str, Any]) -> dict[str, Any]:
    """Every metric on the validation and test fixtures.

    Args:
        fixtures: ``{"validation": (y_true, scores), "test": (y_true, scores)}``.
        shared: the ``Evaluation`` fields both fixtures share (clocks, sizes, events).

    Returns:
        ``metrics`` (test), ``validation_metrics`` and ``failed_metrics`` (test, with reasons).

    Raises:
        MetricsFailed: every metric failed on the test fixture.
        HardFail: a test metric crossed its hard-fail threshold.
    """
    from ..compile.inference import predictions

    assert task.prediction is not None
    out: dict[str, tuple[dict[str, float], dict[str, str]]] = {}
    for split, (y_true, scores) in fixtures.items():
        out[split] = evaluate(catalog, metrics, y_true=y_true, scores=scores, fixture=split,
                              y_pred=predictions(scores, task.prediction, y_true.shape), **shared)
    (values, failed), (validation, _) = out["test"], out["validation"]
    if metrics and not values:
        raise MetricsFailed("every metric failed: " + "; ".join(failed.values()))
    if hard := hard_failures(catalog, values):
        raise HardFail("; ".join(hard), values)
    return {"metrics": values, "validation_metrics": validation, "failed_metrics": failed}
