"""Execution a scientist can trust: the problem's own task decides the loss, non-finite
training fails the run, curves and selection read a validation fixture, clocks say what
they cover, and data are checked against their declarations and the campaign's checksum.

End-to-end cases use a third-party plugin installed the way users install one (an entry
point on the path), so that pods discover it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from saibench_core.compile.finite import NonFinite, check_losses, check_parameters, check_predictions
from saibench_core.data.validation import carve_validation
from saibench_core.discovery import Catalog
from saibench_core.execute import run_isolated
from saibench_core.execute.checks import DatasetChanged, DeclaredTypeError, check_converted, check_fixture
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner, Run
from sail_types import Image, Label, Tensor, TimeSeries, Train

from . import fake_plugin

TOY = '''
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (Classify, Dataset, Input, Label, Layer, Linear, Pipeline, Regress, Scalar, Softmax, Task, Tensor,
                        Test, Train, Training, Validation, hookimpl, model, problem, trainer)

TAU = 0.9


def pinball(outputs, targets):
    """The pinball (quantile) loss at level TAU, per sample."""
    import jax.numpy as jnp

    error = targets - outputs
    return jnp.maximum(TAU * error, (TAU - 1.0) * error)


Quantile = Task("Quantile", loss=pinball, refines=Regress)
X = Annotated[NDArray[np.float32], Tensor(3)]
Y = Annotated[NDArray[np.float32], Scalar()]


def _line(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([1.0, -2.0, 0.5]) + 3.0 + rng.normal(size=n)).astype(np.float32)


@problem(task=Quantile)
def quantile_line(*, split_seed: int = 0) -> Dataset[X, Y]:
    x, y = _line(250, split_seed)
    return Dataset(Train(x[:200], y[:200]), Test(x[200:], y[200:]))


@problem(task=Regress)
def line() -> Dataset[X, Y]:
    x, y = _line(250, 3)
    return Dataset(Train(x[:200], y[:200]), Test(x[200:], y[200:]))


@problem(task=Regress)
def holey_line() -> Dataset[X, Y]:
    x, y = _line(250, 1)
    x[[210, 230]] = np.nan  # two test inputs a sensor lost
    return Dataset(Train(x[:200], y[:200]), Test(x[200:], y[200:]))


@problem(task=Regress)
def line_with_validation() -> Dataset[X, Y]:
    x, y = _line(250, 4)
    return Dataset(Train(x[:180], y[:180]), Test(x[200:], y[200:]), validation=Validation(x[180:200], y[180:200]))


@problem(task=Classify)
def mislabelled() -> Dataset[X, Annotated[NDArray[np.int32], Label(3)]]:
    x, _ = _line(80, 2)
    y = (np.arange(80) % 4).astype(np.int32)  # four classes for a declared three
    return Dataset(Train(x[:60], y[:60]), Test(x[60:], y[60:]))


@model(task=Regress)
def affine(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(1))


@trainer()
def plain_sgd(*, learning_rate: float = 1.5, epochs: int = 40, batch_size: int = 32) -> Training:
    import optax

    return Training(optax.sgd(learning_rate), epochs=epochs, batch_size=batch_size)


@hookimpl
def saibench_modules():
    return [quantile_line, line, line_with_validation, holey_line, mislabelled, affine, plain_sgd]
'''


_PLANNED: dict[int, list[Run]] = {}


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """The installed catalog plus the toy plugin, visible to this process and its pods."""
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("toy"), "trusttoy", TOY) as catalog:
        yield catalog


def a_run(catalog: Catalog, problem: str, model: str, trainer: str, **trainer_hyper: Any) -> Run:
    if id(catalog) not in _PLANNED:
        _PLANNED[id(catalog)] = list(Planner(catalog).runs())
    run = next(r for r in _PLANNED[id(catalog)] if (r.problem, r.model, r.trainer) == (problem, model, trainer))
    return attrs.evolve(run, hyper={**run.hyper, "trainer": {**run.hyper["trainer"], **trainer_hyper}})


# -- 1. the problem's own task decides the loss ------------------------------------------


def test_a_plugin_task_with_its_own_loss_trains_end_to_end(toy: Catalog, tmp_path: Path) -> None:
    # learning rate 0 and one full batch: the one epoch's loss is the loss at the saved parameters
    run = a_run(toy, "quantile_line", "affine", "adam", epochs=1, batch_size=10_000, learning_rate=0.0)
    out = execute(run, toy, save_weights=str(tmp_path / "w.npz"))
    with np.load(tmp_path / "w.npz") as npz:
        weights = dict(npz)
    mod = __import__("saibench_trusttoy")
    x, y = mod._line(250, run.split)
    x, y = x[:200].astype(np.float64), y[:200].astype(np.float64)
    held = out["n_validation"]
    assert out["n_train"] + held == 200 and held == 40  # 20 % carved for validation
    # the carve is random: recover the samples trained on from the NumPy reference of the carve
    order = np.random.default_rng(run.split).permutation(200)[:held]
    keep = np.setdiff1d(np.arange(200), order)
    mean, std = out["training"]["target_scale"]  # a regressor outputs mean + std · network(x), from the training targets
    assert (mean, std) == pytest.approx((float(np.mean(y[keep])), float(np.std(y[keep]))), rel=1e-5)
    outputs = mean + std * ((x[keep] @ weights["[0]['w']"].astype(np.float64)).ravel() + float(weights["[0]['b']"][0]))
    error = y[keep] - outputs
    pinball = np.mean(np.maximum(0.9 * error, -0.1 * error))
    assert out["epoch_losses"][0] == pytest.approx(pinball, rel=1e-5)
    assert out["epoch_losses"][0] != pytest.approx(np.mean(error**2), rel=1e-2)  # not squared error in disguise


def test_a_plugin_task_fits_its_quantile(toy: Catalog) -> None:
    out = execute(a_run(toy, "quantile_line", "affine", "adam", epochs=150, learning_rate=0.05), toy)
    assert out["metrics"]["mae"] > 0 and out["train_clock"] == "steady state"
    assert np.isfinite(out["epoch_losses"]).all() and out["epoch_losses"][-1] < out["epoch_losses"][0]


# -- 2. failures that count --------------------------------------------------------------

DIVERGED = re.compile(r"training diverged: train loss is (nan|inf) from epoch (\d+) of 40 \(first non-finite epoch\)")


def test_a_diverging_trainer_fails_the_run_with_its_epoch(toy: Catalog) -> None:
    with pytest.raises(NonFinite) as caught:
        execute(a_run(toy, "line", "affine", "plain_sgd"), toy)
    assert isinstance(caught.value, FloatingPointError)
    found = DIVERGED.search(str(caught.value))
    assert found and caught.value.epoch == int(found.group(2)) and 1 < caught.value.epoch <= 40


def test_a_diverging_run_is_a_failed_outcome_through_a_pod(toy: Catalog) -> None:
    outcome = run_isolated(a_run(toy, "line", "affine", "plain_sgd"), timeout=300)
    assert outcome.status == "failed" and outcome.metrics == {}
    assert outcome.reason.startswith("NonFinite: ") and DIVERGED.search(outcome.reason), outcome.reason


def test_non_finite_predictions_fail_the_run(toy: Catalog) -> None:
    with pytest.raises(NonFinite, match=r"^predictions on the test fixture: 2 of 50 non-finite$"):
        execute(a_run(toy, "holey_line", "affine", "adam", epochs=2), toy)


def test_non_finite_checks_name_the_epoch_and_the_leaf() -> None:
    with pytest.raises(NonFinite, match=r"train loss is nan from epoch 3 of 5 \(first") as caught:
        check_losses(np.array([1.0, 0.5, np.nan, np.inf, np.nan], np.float32))
    assert caught.value.epoch == 3
    with pytest.raises(NonFinite, match=r"train loss is inf from epoch 1 of 2"):
        check_losses(np.array([np.inf, 1.0]))
    check_losses(np.array([3.0, 2.0]))
    params = ({"w": np.ones((2, 2)), "b": np.zeros(2)}, (), {"w": np.array([[1.0], [np.inf]]), "b": np.zeros(1)})
    with pytest.raises(NonFinite, match=r"^parameters are non-finite after training: \[2\]\['w'\]$"):
        check_parameters(params)
    check_parameters(({"w": np.ones(2)}, {"steps": np.array(3)}))
    scores = np.ones((6, 2))
    scores[[1, 4], 0] = np.nan
    with pytest.raises(NonFinite, match=r"^predictions on the validation fixture: 2 of 6 non-finite$"):
        check_predictions(scores, "validation")


# -- 3. selection on validation -------------------------------------------------------


def test_carving_is_stratified_seeded_and_disjoint() -> None:
    y = np.repeat(np.arange(4), [50, 11, 3, 1])
    x = np.arange(len(y), dtype=np.float64)[:, None]
    rest, validation = carve_validation(Train(x, y), seed=7, stratify=True, chronological=False)
    counts = {c: int(np.sum(validation.y == c)) for c in range(4)}
    assert counts == {0: 10, 1: 2, 2: 1, 3: 0}  # 20 %, at least 1 a class, a lone sample stays in training
    assert sorted(np.concatenate([rest.x[:, 0], validation.x[:, 0]]).tolist()) == x[:, 0].tolist()
    assert np.array_equal(y[validation.x[:, 0].astype(int)], validation.y)  # inputs and targets stay paired
    again, _ = carve_validation(Train(x, y), seed=7, stratify=True, chronological=False)
    other, _ = carve_validation(Train(x, y), seed=8, stratify=True, chronological=False)
    assert np.array_equal(again.x, rest.x) and not np.array_equal(other.x, rest.x)


def test_carving_time_ordered_data_takes_the_last_samples() -> None:
    x = np.arange(23.0)[:, None, None]
    rest, validation = carve_validation(Train(x, x[:, 0, 0]), seed=0, stratify=True, chronological=True)
    assert validation.y.tolist() == list(range(18, 23)) and rest.y.tolist() == list(range(18))  # ceil(0.2 * 23) = 5


def test_time_ordered_problems_are_known_by_input_kind_or_forecast_task() -> None:
    from saibench_core.discovery import Descriptor
    from saibench_core.execute.fixtures import time_ordered
    from sail_types import Classify, Forecast, ModuleSpec, Regress, Task

    def desc(input_type: Any) -> Descriptor:
        return Descriptor("p", "problem", "t", "0", ModuleSpec("problem", task=Regress), input=input_type)

    nowcast = Task("Nowcast", refines=Forecast)
    assert time_ordered(desc(TimeSeries(16, 1)), Regress) and time_ordered(desc(Tensor(3)), nowcast)
    assert not time_ordered(desc(Tensor(3)), Regress) and not time_ordered(desc(Image(8, 8, 1)), Classify)


def test_curves_and_selection_read_a_stratified_validation_fixture(catalog: Catalog) -> None:
    from saibench_tutorial import wine

    run = a_run(catalog, "wine", "linear", "adam", epochs=30)
    out = execute(run, catalog)
    train_y = wine(split_seed=run.split).train.y
    expected = sum(max(1, round(0.2 * n)) for n in np.bincount(train_y))
    assert out["n_validation"] == expected and out["n_train"] == len(train_y) - expected and out["validation_carved"]
    assert len(out["validation_accuracy"]) == 30
    assert out["validation_accuracy"][-1] == pytest.approx(out["validation_metrics"]["accuracy"])
    reached = [i for i, acc in enumerate(out["validation_accuracy"]) if acc >= 0.95]
    ttr = out["validation_metrics"]["time_to_95_accuracy"]
    assert ttr == (pytest.approx(out["metrics"]["train_time"] * (reached[0] + 1) / 30) if reached else float("inf"))
    assert set(out["validation_metrics"]) == set(out["metrics"])


def test_a_provided_validation_fixture_is_used_as_is(toy: Catalog, tmp_path: Path) -> None:
    out = execute(a_run(toy, "line_with_validation", "affine", "adam", epochs=5), toy, save_weights=str(tmp_path / "w.npz"))
    assert (out["n_train"], out["n_validation"], out["n_test"], out["validation_carved"]) == (180, 20, 50, False)
    with np.load(tmp_path / "w.npz") as npz:
        weights = dict(npz)
    x, y = __import__("saibench_trusttoy")._line(250, 4)
    mean, std = out["training"]["target_scale"]
    predicted = mean + std * ((x[180:200] @ weights["[0]['w']"]).ravel() + weights["[0]['b']"][0])
    assert out["validation_metrics"]["mae"] == pytest.approx(np.mean(np.abs(predicted - y[180:200])), rel=1e-5)


def test_the_pod_passes_the_run_split_as_the_problem_split_seed(toy: Catalog) -> None:
    from saibench_core.data import dataset_checksum

    mod = __import__("saibench_trusttoy")
    run = attrs.evolve(a_run(toy, "quantile_line", "affine", "adam", epochs=1), split=3)
    run = attrs.evolve(run, dataset_checksum=dataset_checksum(mod.quantile_line(split_seed=3)))
    out = execute(run, toy)  # the campaign's checksum of split 3 matches: no DatasetChanged
    assert out["dataset_checksum"] == run.dataset_checksum != dataset_checksum(mod.quantile_line(split_seed=0))


# -- 4. honest clocks ---------------------------------------------------------------------


def test_training_is_timed_in_steady_state_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import jax.numpy as jnp

    from saibench_core.compile import clocks

    calls: list[int] = []

    def program(v: Any) -> Any:
        calls.append(1)
        return jnp.asarray(v) * 2

    out, seconds, first, clock = clocks.timed_execution(program, 3.0)
    assert float(out) == 6.0 and len(calls) == 2 and clock == "steady state" and seconds >= 0 and first >= 0
    monkeypatch.setattr(clocks, "STEADY_STATE_BUDGET_S", 0.0)
    calls.clear()
    out, seconds, first, clock = clocks.timed_execution(program, 3.0)
    assert len(calls) == 1 and clock == "first execution" and seconds == first


def test_inference_clocks_are_medians_of_passes_and_the_cache_state_is_recorded(toy: Catalog, tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import jax

    from saibench_core.compile import compile_model, predict
    from sail_types import Linear, Pipeline

    model = compile_model(Pipeline(Linear(2)), {})
    params, _ = model.init(jax.random.key(0), (3,))
    x = np.ones((5, 3), np.float32)
    out, seconds = predict(model, params, x, passes=4)
    assert seconds.shape == (4,) and np.allclose(out, x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]), atol=1e-6)
    monkeypatch.setenv("SAIBENCH_JAX_CACHE", str(tmp_path / "jax-cache"))  # a fresh persistent cache: miss, then hit
    run = a_run(toy, "line", "affine", "adam", epochs=1)
    first, second = (run_isolated(run, timeout=300) for _ in range(2))
    assert (first.status, second.status) == ("ok", "ok"), (first.reason, second.reason)
    assert (first.details["compile_cache"], second.details["compile_cache"]) == ("miss", "hit")
    assert first.details["train_clock"] == "steady state"
    timing = first.details["timing"]
    assert first.metrics["inference_throughput"] == pytest.approx(50 / np.median(timing["inference_seconds"]))
    assert len(timing["inference_seconds"]) == 7 and first.metrics["compile_time"] == timing["compile_seconds"]


# -- 5. declared types and the campaign's checksum ---------------------------------------


def test_fixtures_are_checked_against_the_declared_types() -> None:
    y10 = np.zeros(4, np.int32)
    with pytest.raises(DeclaredTypeError, match=re.escape(
            "problem digits declares input Image(8, 8, 1) but its train fixture x has per-sample shape (7, 7, 1)")):
        check_fixture("problem digits", Image(8, 8, 1), Label(10), "train", np.zeros((4, 7, 7, 1)), y10, {})
    with pytest.raises(DeclaredTypeError, match=re.escape("problem p declares Label(10) targets but its train targets contain class 11")):
        check_fixture("problem p", Tensor(2), Label(10), "train", np.zeros((4, 2)), np.array([0, 3, 11, 9]), {})
    with pytest.raises(DeclaredTypeError, match=r"Label\('k'\) targets \(integer class indices\) but its test targets have dtype float64"):
        check_fixture("problem p", Tensor(2), Label("k"), "test", np.zeros((2, 2)), np.array([0.0, 1.0]), {"k": 2})
    with pytest.raises(DeclaredTypeError, match=re.escape("declares input Image('n', 'n', 1) = (7, 7, 1) but its train fixture x has per-sample shape (7, 8, 1)")):
        check_fixture("problem q", Image("n", "n", 1), Label(10), "train", np.zeros((4, 7, 8, 1)), y10, {})
    with pytest.raises(DeclaredTypeError, match=re.escape("declares input TimeSeries('t * 2', 1) (rank 2) but its test fixture x has per-sample shape (5,)")):
        check_fixture("problem s", TimeSeries("t*2", 1), Label(10), "test", np.zeros((4, 5)), y10, {})
    check_fixture("problem ok", Image("h", "w", 1), Label("k"), "train", np.zeros((4, 7, 9, 1)), np.array([0, 1, 2, 1]), {"k": 3})
    check_fixture("problem ok", TimeSeries("t*2", 1), Label(10), "train", np.zeros((4, 6, 1)), y10, {})
    with pytest.raises(DeclaredTypeError, match=re.escape(
            "converter flatten should give model mlp's input Tensor('d') = (64,) (dims {'d': 64, 'k': 10}) but its train x has per-sample shape (63,)")):
        check_converted("converter flatten", "mlp", Tensor("d"), "train", np.zeros((3, 63)), {"d": 64, "k": 10})


def test_a_problem_whose_labels_break_its_declaration_fails_naming_it(toy: Catalog) -> None:
    with pytest.raises(DeclaredTypeError, match=r"^problem mislabelled declares Label\(3\) targets but its train targets contain class 3"):
        execute(a_run(toy, "mislabelled", "linear", "adam", epochs=1), toy)


def test_a_dataset_changed_since_the_campaign_checked_it_fails(toy: Catalog) -> None:
    run = attrs.evolve(a_run(toy, "quantile_line", "affine", "adam", epochs=1), dataset_checksum="0" * 64)
    with pytest.raises(DatasetChanged, match=r"^the dataset of problem quantile_line changed since the campaign checked it"):
        execute(run, toy)
