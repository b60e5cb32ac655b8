"""Sample efficiency: a problem's label budget (``@problem(label_budget=...)``) turns runs
that differ only in it into a curve per configuration and ranking, with its area (the
trapezoid rule over log2 of the budget, against NumPy), ranked best first with the
reference baseline's curve beside, in ``saibench rank`` tables and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
from numpy.typing import NDArray

import saibench_core as sb
import sail_types as sail
from saibench_core.discovery import Catalog
from saibench_core.discovery.describe import describe
from saibench_core.rank.efficiency import area
from sail_types import InvalidSignature

from . import fake_plugin

PLUGIN = '''
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Dataset, Fitted, Input, Regress, Scalar, Suggest, Tensor, Test, Train, hookimpl, model, problem


@problem(task=Regress, label_budget="labels")
def budgeted(*, labels: float = Suggest([0.125, 0.5, 1.0])) -> Dataset[Annotated[NDArray[np.float32], Tensor(1)],
                                                                   Annotated[NDArray[np.float32], Scalar()]]:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(400, 1)).astype(np.float32)
    y = np.sin(3 * x[:, 0]).astype(np.float32)
    n = max(2, int(round(labels * 320)))
    return Dataset(Train(x[:n], y[:n]), Test(x[320:], y[320:]))


@model(task=Regress)
def nearest(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    def fit(train):
        return lambda q: train.y[np.abs(q[:, :1] - train.x[:, 0][None]).argmin(1)]
    return Fitted(fit, how="1-nearest neighbour")


@hookimpl
def saibench_modules():
    return [budgeted, nearest]
'''


@pytest.fixture(scope="module")
def budget(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Path]]:
    where = tmp_path_factory.mktemp("budget")
    with fake_plugin.installed_catalog(where, "budgettoy", PLUGIN) as catalog:
        yield catalog, where


def test_area_is_the_mean_over_log2_budgets() -> None:
    points = [(1 / 32, 0.2), (1 / 8, 0.5), (1 / 2, 0.6), (1.0, 0.9)]
    x, y = np.log2([b for b, _ in points]), np.array([s for _, s in points])
    assert area(points) == pytest.approx(np.trapezoid(y, x) / (x[-1] - x[0]))
    assert area([(0.5, 0.7)]) == 0.7 and np.isnan(area([(0.5, float("nan")), (1.0, 1.0)]))


def test_runs_across_budgets_make_one_curve_per_configuration(budget: tuple[Catalog, Path], tmp_path: Path) -> None:
    catalog, where = budget
    db = tmp_path / "db.sqlite"
    results = sb.run(sb.plan(problem="budgeted", model="nearest", catalog=catalog), db=db, catalog=catalog)
    assert results.counts["ok"] == 3
    curves = [c for c in sb.sample_efficiency(results.leaderboards(), catalog) if c.ranking == "by_mae"]
    method, reference = curves
    assert (method.label, method.trainer, reference.reference) == ("nearest", "fit", True)
    assert [b for b, _ in method.points] == [0.125, 0.5, 1.0]
    maes = [r.metrics["mae"] for r in sorted(results.records, key=lambda r: r.run.hyper["problem"]["labels"])]
    assert list(method.metrics) == pytest.approx(maes) and maes[0] > maes[-1]  # more labels, nearer neighbours
    assert method.area == pytest.approx(area([(b, -m) for b, m in zip([0.125, 0.5, 1.0], maes, strict=True)]))
    env = {"PYTHONPATH": str(where), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([sys.executable, "-m", "saibench_core", "rank", "--db", str(db), "--json"], capture_output=True,
                          text=True, check=True, env={**os.environ, **env})
    shown = json.loads(done.stdout)["sample-efficiency"]
    assert {(c["ranking"], c["model"]) for c in shown} >= {("by_mae", "nearest"), ("by_mae", "reference: training mean")}
    table = subprocess.run([sys.executable, "-m", "saibench_core", "rank", "--db", str(db)], capture_output=True, text=True,
                           check=True, env={**os.environ, **env}).stdout
    assert "sample efficiency: ranking by_mae on budgeted" in table


Data = sail.Dataset[Annotated[NDArray[np.float32], sail.Tensor(1)], Annotated[NDArray[np.float32], sail.Scalar()]]


@sail.problem(task=sail.Regress, label_budget="labels")
def no_such(*, n: int = 3) -> Data:
    raise AssertionError


@sail.problem(task=sail.Regress, label_budget="labels")
def too_many(*, labels: float = sail.Suggest([0.5, 2.0])) -> Data:
    raise AssertionError


def test_a_label_budget_must_name_a_fraction_hyperparameter() -> None:
    with pytest.raises(InvalidSignature, match="label_budget='labels' is not one of its hyperparameters"):
        describe(no_such, "p", "0")
    with pytest.raises(InvalidSignature, match=r"label budget 'labels' takes \[2.0\]; its values are fractions"):
        describe(too_many, "p", "0")
