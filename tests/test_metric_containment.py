"""A metric that raises, returns None, a string or an array fails alone, named; the run
keeps every other metric. A run all of whose metrics fail is a failed run."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from saibench_core.discovery import Catalog
from saibench_core.execute.evaluate import MetricsFailed
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner, Run

from . import fake_plugin

PLUGIN = '''
import sys
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Dataset, Evaluation, Input, Layer, Linear, Pipeline, Regress, Scalar, Tensor, Test, Train, hookimpl, metric, model, problem


@problem(task=Regress)
def tiny_line() -> Dataset[Annotated[NDArray[np.float32], Tensor(2)], Annotated[NDArray[np.float32], Scalar()]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0])).astype(np.float32)
    return Dataset(Train(x[:50], y[:50]), Test(x[50:], y[50:]))


@model(task=Regress)
def tiny_affine(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(1))


@metric(goal="min")
def raises(ev: Annotated[Evaluation, Scalar()]) -> float:
    raise ZeroDivisionError("no samples of class 3")


@metric(goal="min")
def gives_none(ev: Annotated[Evaluation, Scalar()]) -> float:
    return None  # type: ignore[return-value]


@metric(goal="min")
def gives_text(ev: Annotated[Evaluation, Scalar()]) -> float:
    return "0.5"  # type: ignore[return-value]


@metric(goal="min")
def exits(ev: Annotated[Evaluation, Scalar()]) -> float:
    sys.exit(3)


@hookimpl
def saibench_modules():
    return [tiny_line, tiny_affine, raises, gives_none, gives_text, exits]
'''

BROKEN = ("raises", "gives_none", "gives_text", "exits")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("metrics"), "metricfaults", PLUGIN) as catalog:
        yield catalog


def _run(catalog: Catalog) -> Run:
    return next(r for r in Planner(catalog).runs() if r.problem == "tiny_line" and r.model == "tiny_affine" and r.trainer == "adam")


def test_each_broken_metric_fails_alone_and_the_others_are_kept(catalog: Catalog) -> None:
    run = _run(catalog)
    assert set(BROKEN) <= set(run.metrics) and "mae" in run.metrics
    out = execute(run, catalog)
    assert "mae" in out["metrics"] and not set(BROKEN) & out["metrics"].keys()
    failed = out["failed_metrics"]
    assert set(failed) == set(BROKEN)
    assert "ZeroDivisionError: no samples of class 3" in failed["raises"]
    assert "returned None" in failed["gives_none"] and "returned '0.5' (str)" in failed["gives_text"]
    assert "SystemExit" in failed["exits"]


def test_a_run_whose_every_metric_fails_is_a_failed_run(catalog: Catalog) -> None:
    run = attrs.evolve(_run(catalog), metrics=BROKEN)
    with pytest.raises(MetricsFailed, match="every metric failed: metric 'raises' raised ZeroDivisionError"):
        execute(run, catalog)
