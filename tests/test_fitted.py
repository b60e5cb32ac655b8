"""Methods fitted without gradients (``Fitted``): described, planned with the ``fit``
pseudo-trainer only, fitted and evaluated in a pod like a trained network, and the bundled
ones checked against scikit-learn. A third-party autoregression, copied from the README, is
planned, run and ranked through the command line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import attrs
import numpy as np
import pytest
from numpy.typing import NDArray

from saibench_core.compile.finite import NonFinite
from saibench_core.discovery import Catalog, describe
from saibench_core.execute.pod import execute
from saibench_core.fit import FitError
from saibench_core.planner import Planner, Run, select
from saibench_core.planner.explain import explain_pair, unused
from saibench_core.rank.table import hyper_items
from sail_types import Classify, Fitted, Input, InvalidSignature, Label, Layer, Require, Tensor, Train, model

from . import fake_plugin

FITTED = ("gaussian_process", "knn", "logistic_regression", "ridge")


def _fit(catalog: Catalog, name: str, dims: dict[str, int], x: NDArray[Any], y: NDArray[Any], **hyper: Any) -> Any:
    """The bundled model's predictor, fitted in this process."""
    desc = catalog.get("model", name)
    assert desc is not None and desc.input is not None
    fitted = desc.fn(Input(desc.input, dims), **hyper)
    assert isinstance(fitted, Fitted)
    return fitted.fit(Train(x.astype(np.float32), y))


def _digits() -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    from sklearn.datasets import load_digits

    raw = load_digits()
    x, y = (raw.data / 16.0).astype(np.float32), raw.target
    order = np.random.default_rng(0).permutation(len(y))
    test, train = order[:450], order[450:]
    return x[train], y[train], x[test], y[test]


# -- the language ------------------------------------------------------------------------


def test_fitted_checks_what_it_is_given() -> None:
    with pytest.raises(InvalidSignature, match="fit\\(train\\) -> predictor"):
        Fitted(3, how="closed form")  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature, match="one printable line"):
        Fitted(lambda train: lambda x: x, how=" ")


def test_a_fitted_model_is_described_as_fitted(catalog: Catalog) -> None:
    assert all(catalog.get("model", name).fitted for name in FITTED)  # type: ignore[union-attr]
    assert not any(catalog.get("model", name).fitted for name in ("mlp", "linear"))  # type: ignore[union-attr]

    @model(task=Classify)
    def composite(x: Annotated[Input, Tensor("d")], *, phi: Layer = Require(Classify, Tensor("d"), Label(2))) -> Annotated[Fitted, Label(2)]:
        raise AssertionError("never built")

    with pytest.raises(InvalidSignature, match="cannot Require submodules"):
        describe(composite, "t", "0")


# -- the planner -------------------------------------------------------------------------


def test_fitted_models_take_only_the_fit_pseudo_trainer(catalog: Catalog) -> None:
    runs = list(Planner(catalog).runs())
    fitted_names = {m.name for m in catalog.of("model") if m.fitted}  # the bundled ones and other plugins' (emt, morse, ...)
    assert set(FITTED) <= fitted_names
    fitted = [r for r in runs if r.model in fitted_names]
    assert {(r.problem, r.model) for r in fitted} >= {("digits", "knn"), ("digits", "logistic_regression"), ("wine", "knn"),
                                                      ("diabetes", "ridge")}
    assert all(r.trainer == "fit" and r.hyper["trainer"] == {} for r in fitted)
    assert all(r.trainer != "fit" for r in runs if r.model not in fitted_names)
    knn = next(r for r in fitted if r.problem == "digits" and r.model == "knn")
    assert Run.from_json(json.loads(json.dumps(knn.to_json()))) == knn
    assert hyper_items(knn) == ["test_fraction=0.25", "neighbours=1"]  # no epochs, no learning rate
    # --trainer selects among the trainers, ``fit`` included
    by_adam = {r.model for r in Planner(select(catalog, {"trainer": ["adam"]})).runs()}
    by_fit = {r.model for r in Planner(select(catalog, {"trainer": ["fit"]})).runs()}
    assert "mlp" in by_adam and not by_adam & fitted_names
    assert by_fit >= {"knn", "logistic_regression", "ridge"}  # ridge meets diabetes (plugins/tabular)


def test_explain_says_why_a_fitted_model_gets_no_trainer(catalog: Catalog) -> None:
    digits = catalog.get("problem", "digits")
    knn = catalog.get("model", "knn")
    assert digits is not None and knn is not None
    refusing = attrs.evolve(digits, spec=attrs.evolve(digits.spec, never_with=("trainer:fit",)))
    planner = Planner(Catalog(tuple(m if m is not digits else refusing for m in catalog.modules)))
    details = [r.detail for r in explain_pair(planner, refusing, knn)]
    assert any("trainer:fit" in d for d in details), details
    assert any("knn is fitted without gradients" in d and "trainer adam" in d for d in details), details
    # a trainer that only fitted models could use is unused, and says so
    alone = Catalog(tuple(m for m in catalog.modules if m.kind != "model" or m.name == "knn"))
    why = {d.name: [r.detail for r in reasons] for d, reasons in unused(Planner(alone))}
    assert any("knn is fitted without gradients" in d for d in why["adam"])


# -- the bundled methods against scikit-learn --------------------------------------------


@pytest.mark.parametrize("alpha", [0.1, 10.0])
def test_ridge_predicts_what_scikit_learn_ridge_does(catalog: Catalog, alpha: float) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    x, y = load_diabetes(return_X_y=True)
    x = x.astype(np.float32)
    predict = _fit(catalog, "ridge", {"d": 10}, x[:300], y[:300], alpha=alpha)
    reference = Ridge(alpha=alpha).fit(x[:300].astype(np.float64), y[:300]).predict(x[300:].astype(np.float64))
    np.testing.assert_allclose(predict(x[300:]), reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("neighbours", [1, 3])
def test_knn_predicts_what_scikit_learn_does(catalog: Catalog, neighbours: int) -> None:
    from scipy.spatial.distance import cdist
    from sklearn.neighbors import KNeighborsClassifier

    x_train, y_train, x_test, y_test = _digits()
    scores = _fit(catalog, "knn", {"d": 64, "k": 10}, x_train, y_train, neighbours=neighbours)(x_test)
    reference = KNeighborsClassifier(n_neighbors=neighbours, algorithm="brute").fit(x_train.astype(np.float64), y_train)
    # pixels are sixteenths, so distances tie exactly; which of the samples tied at the
    # k-th distance is taken is arbitrary in both: compare the others
    distances = np.sort(cdist(x_test.astype(np.float64), x_train.astype(np.float64), "sqeuclidean"), axis=1)
    untied = distances[:, neighbours - 1] < distances[:, neighbours]
    assert untied.mean() > 0.95
    expected = reference.predict_proba(x_test.astype(np.float64))
    np.testing.assert_allclose(scores[untied], expected[untied], atol=1e-12)
    assert np.array_equal(scores[untied].argmax(1), reference.predict(x_test[untied].astype(np.float64)))
    assert np.mean(scores.argmax(1) == y_test) >= 0.975


def test_logistic_regression_converges_to_scikit_learns_solution(catalog: Catalog) -> None:
    from sklearn.linear_model import LogisticRegression

    x_train, y_train, x_test, y_test = _digits()
    l2 = 1e-3
    probabilities = _fit(catalog, "logistic_regression", {"d": 64, "k": 10}, x_train, y_train, l2=l2)(x_test)
    # scikit-learn minimises C * sum(cross-entropy) + |W|²/2: the same objective at C = 1 / (l2 n)
    reference = LogisticRegression(C=1 / (l2 * len(y_train)), tol=1e-10, max_iter=10_000).fit(x_train.astype(np.float64), y_train)
    np.testing.assert_allclose(probabilities, reference.predict_proba(x_test.astype(np.float64)), atol=1e-5)
    assert np.array_equal(probabilities.argmax(1), reference.predict(x_test.astype(np.float64)))
    assert np.mean(probabilities.argmax(1) == y_test) >= 0.95


# -- the executor ------------------------------------------------------------------------

TOY = '''
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (Classify, Dataset, Fitted, Input, Label, Linear, Pipeline, Tensor, Test, Train, hookimpl, model,
                        problem)


@problem(task=Classify)
def blobs() -> Dataset[Annotated[NDArray[np.float32], Tensor(2)], Annotated[NDArray[np.int32], Label(3)]]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300).astype(np.int32)
    x = (rng.normal(size=(300, 2)) + 4 * y[:, None]).astype(np.float32)
    return Dataset(Train(x[:240], y[:240]), Test(x[240:], y[240:]))


@model(task=Classify)
def nan_scores(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Label("k")]:
    return Fitted(lambda train: lambda q: np.full((len(q), 3), np.nan), how="predicts NaN")


@model(task=Classify)
def class_indices(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Label("k")]:
    return Fitted(lambda train: lambda q: np.zeros(len(q)), how="predicts class 0")


@model(task=Classify)
def not_fitted(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Label("k")]:
    return Pipeline(Linear("k"))


@model(task=Classify)
def random_subset(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Label("k")]:
    """Nearest class mean, the means perturbed at random: randomised, so seeded."""
    def fit(train, *, seed):
        means = np.stack([train.x[train.y == c].mean(axis=0) for c in range(3)])
        means += np.random.default_rng(seed).normal(scale=3.0, size=means.shape)
        def predict(q):
            closeness = np.exp(-((q[:, None, :] - means[None]) ** 2).sum(axis=-1) / 10)
            return closeness / closeness.sum(axis=1, keepdims=True)  # class probabilities
        return predict
    return Fitted(fit, how="nearest perturbed class mean")


@hookimpl
def saibench_modules():
    return [blobs, nan_scores, class_indices, not_fitted, random_subset]
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("fittoy"), "fittoy", TOY) as catalog:
        yield catalog


def _run(catalog: Catalog, problem: str, model_name: str, **hyper: Any) -> Run:
    return next(r for r in Planner(select(catalog, {"problem": [problem], "model": [model_name]})).runs()
                if all(r.hyper["model"].get(k) == v for k, v in hyper.items()))


def test_a_fitted_run_is_fitted_timed_and_measured_like_a_trained_one(catalog: Catalog) -> None:
    out = execute(_run(catalog, "digits", "knn", neighbours=1), catalog)
    metrics = out["metrics"]
    assert metrics["accuracy"] >= 0.975 and out["validation_metrics"]["accuracy"] >= 0.95
    assert out["fitted"] == "1-nearest neighbours (Euclidean), no training loop" and out["epoch_losses"] == []
    assert out["timing"]["compile_seconds"] == 0.0 == metrics["compile_time"]
    assert metrics["train_time"] == out["timing"]["train_seconds"] and out["train_clock"] == "steady state"
    assert out["n_train"] + out["n_validation"] == 1347 and out["validation_carved"]
    assert metrics["time_to_95_accuracy"] == metrics["train_time"]  # reached by the fit itself
    assert len(out["timing"]["inference_seconds"]) == 7 and metrics["inference_throughput"] > 0


def test_logistic_regression_beats_the_same_model_trained_by_adam(catalog: Catalog) -> None:
    converged = execute(_run(catalog, "digits", "logistic_regression", l2=1e-3), catalog)["metrics"]["accuracy"]
    adam = execute(_run(catalog, "digits", "linear"), catalog)["metrics"]["accuracy"]
    assert converged >= 0.95 and converged > adam


def test_a_randomised_fit_gets_the_runs_seed(toy: Catalog) -> None:
    def seeded(train: Train[Any, Any], *, seed: int) -> Any:
        return lambda q: np.full(len(q), seed)

    assert Fitted(seeded, how="s").seeded and not Fitted(lambda train: len, how="d").seeded
    assert Fitted(seeded, how="s").fit_on(Train(np.zeros((2, 1)), np.zeros(2)), 7)(np.zeros(3)).tolist() == [7, 7, 7]
    run = _run(toy, "blobs", "random_subset")
    first, again, other = (execute(attrs.evolve(run, seed=seed), toy)["metrics"] for seed in (0, 0, 5))
    assert first["accuracy"] == again["accuracy"] and first["ece"] == again["ece"]
    assert (first["accuracy"], first["ece"]) != (other["accuracy"], other["ece"])


def test_non_finite_predictions_fail_a_fitted_run(toy: Catalog) -> None:
    with pytest.raises(NonFinite, match=r"^predictions on the test fixture: 60 of 60 non-finite$"):
        execute(_run(toy, "blobs", "nan_scores"), toy)


def test_malformed_fits_are_named_with_their_fix(toy: Catalog) -> None:
    with pytest.raises(FitError, match=re.escape("returned shape (60,) for the 60 samples of the test fixture; "
                                                 "return per-class scores of shape (60, 3) (class indices c become scores with np.eye(3)[c])")):
        execute(_run(toy, "blobs", "class_indices"), toy)
    with pytest.raises(FitError, match="model not_fitted: is annotated '-> Annotated\\[Fitted, ...\\]' but its factory returned Pipeline"):
        execute(_run(toy, "blobs", "not_fitted"), toy)


# -- a third-party plugin, from the README alone -----------------------------------------


def _readme_plugin() -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index("### Fitted methods"):]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    return found.group(1)


def _oracle_mae() -> float:
    """The MAE of the true AR(2) predictor on the README problem's test samples: what a
    least-squares fit of the right order must come within sampling error of."""
    rng = np.random.default_rng(0)
    z = np.zeros(3000)
    for i in range(2, len(z)):
        z[i] = 0.6 * z[i - 1] - 0.3 * z[i - 2] + rng.normal()
    y, previous, before = z[8:], z[7:-1], z[6:-2]
    cut = len(y) * 4 // 5
    return float(np.mean(np.abs(y[cut:] - (0.6 * previous[cut:] - 0.3 * before[cut:]))))


@pytest.mark.slow
def test_a_readme_autoregression_is_planned_run_and_ranked(tmp_path: Path) -> None:
    env = fake_plugin.install(tmp_path, "arplug", _readme_plugin())

    def saibench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, env=env, timeout=600)

    every = json.loads(saibench("solve", "--json", "--problem", "ar_series").stdout)
    # the bundled regressors over vectors meet the forecast too, through the lag_features converter
    assert {(r["model"], tuple(r["chain"])) for r in every if r["model"] != "ar"} == {
        (m, ("lag_features",)) for m in ("ridge", "gaussian_process", "mlp_regressor")}
    planned = [r for r in every if r["model"] == "ar"]
    assert {(r["trainer"], r["hyperparameters"]["model"]["order"]) for r in planned} == {("fit", o) for o in (1, 2, 4)}
    db = str(tmp_path / "results.sqlite")
    done = saibench("run", "--problem", "ar_series", "--model", "ar", "--db", db)
    assert done.returncode == 0, done.stderr
    boards = json.loads(saibench("rank", "--db", db, "--json").stdout)["by_mae"]
    orders = [b["hyperparameters"]["model"]["order"] for b in boards]
    assert [b["place"] for b in boards] == [1, 2, 3] and orders[-1] == 1  # AR(1) cannot model an AR(2) series
    best = boards[0]["metrics"]["mae"]
    assert best == pytest.approx(_oracle_mae(), rel=0.02)
    assert all(b["trainer"] == "fit" and b["hyperparameters"]["trainer"] == {} for b in boards)
    shown = saibench("rank", "--db", db).stdout
    assert "fit: ar: least-squares AR(2) with intercept" in shown
    assert "epochs" not in shown and "learning_rate" not in shown
