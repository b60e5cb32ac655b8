"""Reference baselines: fitted per task (majority class, training mean, persistence),
evaluated with every run on the prediction metrics, and shown in leaderboards beside the
methods, unplaced, where their score would rank."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console
from saibench_standard import rankings

from saibench_core import cli
from saibench_core.discovery import Catalog, Descriptor
from saibench_core.execute.evaluate import evaluate_run
from saibench_core.execute.pod import execute
from saibench_core.execute.reference import MAJORITY, MEAN, PERSISTENCE, fit_reference
from saibench_core.planner import Planner, Run, select
from saibench_core.rank import REFERENCES, leaderboard
from saibench_core.rank.table import REF, tables
from saibench_core.results import Outcome, Record, Store
from saibench_core.results.export import json_safe
from sail_types import Classify, Forecast, Regress

from . import fake_plugin


def ranking(fn: Any) -> Descriptor:
    return Descriptor(fn.__name__, "ranking", "standard", "0", fn.__sail__, doc=fn.__doc__ or "", fn=fn)


BY_MAE, BY_ACCURACY = ranking(rankings.by_mae), ranking(rankings.by_accuracy)


def test_majority_class_scores_are_training_frequencies() -> None:
    ref = fit_reference(Classify, np.zeros((6, 2)), np.array([2, 2, 2, 0, 1, 2]), ordered=False)
    scores = ref.scores(np.zeros((3, 2)), np.zeros((3, 4)))
    assert ref.name == MAJORITY
    np.testing.assert_allclose(scores, np.tile([1 / 6, 1 / 6, 4 / 6, 0.0], (3, 1)))


def test_regression_reference_is_the_training_mean_per_output() -> None:
    y = np.array([[1.0, 10.0], [3.0, 30.0]])
    ref = fit_reference(Regress, np.zeros((2, 5)), y, ordered=False)
    assert ref.name == MEAN
    np.testing.assert_allclose(ref.scores(np.zeros((3, 5)), np.zeros((3, 2))), [[2.0, 20.0]] * 3)


def test_ordered_single_channel_series_persist_their_last_value() -> None:
    x = np.arange(24, dtype=float).reshape(4, 6, 1)
    ref = fit_reference(Forecast, x, np.arange(4.0), ordered=True)
    assert ref.name == PERSISTENCE
    np.testing.assert_allclose(ref.scores(x, np.zeros(4)), x[:, -1, 0])
    # several channels, or unordered samples: the training mean instead
    assert fit_reference(Forecast, np.zeros((4, 6, 2)), np.arange(4.0), ordered=True).name == MEAN
    assert fit_reference(Regress, x, np.arange(4.0), ordered=False).name == MEAN


def test_the_reference_is_scored_on_prediction_metrics_only(catalog: Catalog) -> None:
    y_train = np.array([1, 1, 1, 0])
    y_test = np.array([1, 0, 1, 1])
    scores = np.eye(2)[y_test].astype(np.float32)  # a perfect method
    shared = {"train_seconds": 1.0, "compile_seconds": 0.1, "inference_seconds": 0.01, "n_train": 4, "n_test": 4,
              "epochs": 1, "events": ()}
    ref = fit_reference(Classify, None, y_train, ordered=False)
    out = evaluate_run(catalog, ("accuracy", "train_time", "worst_class_f1", "time_to_95_accuracy"), Classify,
                       {"validation": (y_test, scores), "test": (y_test, scores)}, shared,
                       y_train=y_train, reference=ref, inputs={"validation": None, "test": None})
    assert out["metrics"]["accuracy"] == 1.0 and out["reference"] == MAJORITY
    assert out["reference_metrics"] == {"accuracy": 0.75, "worst_class_f1": 0.0}  # no clocks, no epoch metrics
    assert out["reference_validation_metrics"] == out["reference_metrics"]


def _run(model: str, *, split: int = 0, seed: int = 0, problem: str = "digits", width: int = 8) -> Run:
    return Run(problem, model, "adam", "jax-float32", "cpu", (), 0.0, {}, {"model": {"width": width}, "trainer": {}},
               ("accuracy", "mae"), ("by_accuracy", "by_mae"), seed=seed, split=split, dataset_checksum=f"s{split}")


def _record(r: Run, accuracy: float, reference: float | None) -> Record:
    details: dict[str, Any] = {}
    if reference is not None:
        details = {"reference": MAJORITY, "reference_metrics": {"accuracy": reference},
                   "reference_validation_metrics": {"accuracy": reference}}
    return Record(f"{r.model}-{r.seed}-{r.split}", r, "ok", "", {"accuracy": accuracy}, details, 1.0)


def _boards() -> Any:
    records = [_record(_run("good", split=s), 0.9 + s / 100, 0.30 + s / 10) for s in range(3)]
    records += [_record(_run("bad", split=s, seed=s), 0.1, 0.35 + s / 10) for s in range(3)]  # same splits: ignored
    records += [_record(_run("worse"), 0.05, None)]
    return leaderboard(BY_ACCURACY, records)


def test_a_reference_row_sits_where_its_score_ranks_without_a_place() -> None:
    board = _boards()
    assert [(e.label, e.place) for e in board.rows] == [
        ("good", 1), (f"reference: {MAJORITY}", None), ("bad", 2), ("worse", 3)]
    assert [e.label for e in board.entries] == ["good", "bad", "worse"]  # the methods alone, as before
    (ref,) = board.references
    # one run per split (the last stored), median over splits
    assert ref.splits == (0, 1, 2) and ref.metrics == {"accuracy": pytest.approx(0.45)}


def test_a_reference_row_is_json_of_its_own() -> None:
    (ref,) = json.loads(json.dumps(json_safe([e.to_json() for e in _boards().references])))
    assert ref["reference"] == MAJORITY and ref["place"] is None and ref["model"] == f"reference: {MAJORITY}"
    assert ref["problem"] == "digits" and ref["splits"] == [0, 1, 2] and ref["metrics"]["accuracy"] == pytest.approx(0.45)


def test_the_table_marks_the_reference_row() -> None:
    out = io.StringIO()
    for group in tables(_boards()):
        Console(file=out, width=80).print(group)
    text = out.getvalue()
    assert f"reference: {MAJORITY}" in text and f"{REF}: the problem's reference baseline" in text
    row = next(line for line in text.splitlines() if "reference:" in line)
    assert row.split()[0] == REF and "adam" not in row


def test_no_reference_row_where_its_metrics_lack_the_rankings() -> None:
    records = [_record(_run("good"), 0.9, 0.3)]
    assert leaderboard(BY_MAE, [attrs_with_mae(r) for r in records]).references == ()


def attrs_with_mae(rec: Record) -> Record:
    return Record(rec.key, rec.run, "ok", "", {"mae": 1.0}, rec.details, 1.0)


SERIES = '''
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Evaluation, Fitted, Forecast, Input, Scalar, Test, TimeSeries, Train, hookimpl, metric, model,
                        problem)


@problem(task=Forecast, unit="K")
def walk() -> Dataset[Annotated[NDArray[np.float32], TimeSeries(6, 1)], Annotated[NDArray[np.float32], Scalar()]]:
    series = np.cumsum(np.random.default_rng(0).normal(size=400)).astype(np.float32)
    x = np.stack([series[i:i + 6] for i in range(390)])[..., None]
    y = series[6:396]
    return Dataset(Train(x[:300], y[:300]), Test(x[300:], y[300:]))


@model(task=Forecast)
def last_value(x: Annotated[Input, TimeSeries("t", "c")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: q[:, -1, 0], how="the last input value")


@model(task=Forecast)
def mean_value(x: Annotated[Input, TimeSeries("t", "c")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: (lambda m: lambda q: np.full(len(q), m, dtype=np.float32))(float(train.y.mean())),
                  how="the training mean")


@metric(goal="max")
def knows_its_context(ev: Evaluation) -> float:
    return float(ev.units == "K" and ev.y_train is not None and len(ev.y_train) == ev.n_train)


@hookimpl
def saibench_modules():
    return [walk, last_value, mean_value, knows_its_context]
'''


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("series"), "seriestoy", SERIES) as catalog:
        yield catalog


def _planned(catalog: Catalog, problem: str, model: str, **hyper: Any) -> Run:
    return next(r for r in Planner(select(catalog, {"problem": [problem], "model": [model]})).runs()
                if all(r.hyper["model"].get(k) == v for k, v in hyper.items()))


def test_a_forecast_run_carries_persistence_and_its_skill(series: Catalog) -> None:
    persistence = execute(_planned(series, "walk", "last_value"), series)
    assert persistence["reference"] == PERSISTENCE
    assert persistence["metrics"]["knows_its_context"] == 1.0  # the unit and the training targets reach metrics
    # the method is persistence itself: no skill over the reference, the same MAE
    assert persistence["metrics"]["mae_skill"] == pytest.approx(0.0, abs=1e-6)
    assert persistence["reference_metrics"]["mae"] == pytest.approx(persistence["metrics"]["mae"], rel=1e-6)
    assert "mase" in persistence["reference_metrics"] and "train_time" not in persistence["reference_metrics"]
    mean = execute(_planned(series, "walk", "mean_value"), series)
    assert mean["metrics"]["mae_skill"] < 0 < mean["metrics"]["mase"]  # a random walk: persistence wins


def test_a_real_digits_run_stores_the_majority_class(catalog: Catalog, tmp_path: Path) -> None:
    out = execute(_planned(catalog, "digits", "knn", neighbours=1), catalog)
    ref = out["reference_metrics"]
    assert out["reference"] == MAJORITY and 0.05 < ref["accuracy"] < 0.15  # ten balanced classes
    assert ref["worst_class_f1"] == 0.0 and "train_time" not in ref
    run = _planned(catalog, "digits", "knn", neighbours=1)
    with Store(tmp_path / "results.sqlite") as store:
        store.put("k", run, Outcome("ok", out.pop("metrics"), details=out))
    shown = CliRunner().invoke(cli.main, ["rank", "--db", str(tmp_path / "results.sqlite"), "--json"])
    boards = json.loads(shown.stdout)
    assert [e["model"] for e in boards["by_accuracy"]] == ["knn"]  # the methods' lists are unchanged
    (row,) = boards[REFERENCES]["by_accuracy"]
    assert row["reference"] == MAJORITY and row["metrics"]["accuracy"] == ref["accuracy"] and row["place"] is None
    table = CliRunner().invoke(cli.main, ["rank", "--db", str(tmp_path / "results.sqlite"), "--ranking", "by_accuracy"])
    rows = [line.split()[:3] for line in table.stdout.splitlines() if "knn" in line or "reference:" in line]
    assert rows[:2] == [["1", "knn", "fit"], [REF, "reference:", "majority"]]


def test_a_reference_that_does_not_fit_the_outputs_is_left_out_not_failed(catalog: Catalog) -> None:
    x = np.arange(24, dtype=float).reshape(4, 6, 1)
    y = np.arange(4.0)
    scores = np.zeros((4, 2))  # two outputs per sample: persistence has one
    shared = {"train_seconds": 1.0, "compile_seconds": 0.1, "inference_seconds": 0.01, "n_train": 4, "n_test": 4,
              "epochs": 1, "events": ()}
    out = evaluate_run(catalog, ("train_time",), Forecast, {"validation": (scores, scores), "test": (scores, scores)}, shared,
                       reference=fit_reference(Forecast, x, y, ordered=True), inputs={"validation": x, "test": x})
    assert "reference" not in out and out["metrics"]["train_time"] == 1.0
