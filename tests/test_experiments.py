"""Gradients and experiments: a problem's ``Gradient`` targets are trained on (the loss
against finite differences), taken through the run's converters (which must then trace
with JAX), given by a fitted predictor's own method where it does not trace, and handed to
metrics with zeros for the reference baseline; a problem's experiments receive the trained
model and their observations reach metrics, and one that fails fails alone."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sail_types as sail
from saibench_core.compile import compile_model
from saibench_core.compile.train import loss_function
from saibench_core.discovery import Catalog
from saibench_core.errors import UsageError
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner, Run

from . import fake_plugin

PLUGIN = '''
from typing import Annotated

import jax.numpy as jnp
import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Evaluation, Experiment, Fitted, Gradient, Input, Layer, Linear, Pipeline, Regress, Scalar,
                        Sequence, Tanh, Tensor, Test, TimeSeries, Train, Validation, converter, hookimpl, metric, model, problem)

COEF = np.array([0.5, 1.0, 2.0], dtype=np.float32)
SLOPE = Gradient("slope", wrt=np.s_[:], sign=1.0, weight=1.0)
Data = Dataset[Annotated[NDArray[np.float32], Tensor(3)], Annotated[NDArray[np.float32], Scalar()]]


def energy(x):
    return (x ** 2 * COEF).sum(-1)


def slope(x):
    return 2 * COEF * x


def fixture(kind, rng, n):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return kind(x, energy(x).astype(np.float32), meta={"slope": slope(x).astype(np.float32)})


def probe(model, data):
    x = data["x"]
    out = {"mean": float(np.mean(model(x))), "traced": float(model.jax is not None), "curve": np.arange(3.0)}
    if "slope" in model.gradients:
        out["slope_error"] = float(np.abs(model.gradient("slope", x) - slope(x)).max())
    return out


def broken(model, data):
    raise RuntimeError("the experiment broke")


@problem(task=Regress, gradients=[SLOPE])
def bowl(*, seed: int = 0) -> Data:
    rng = np.random.default_rng(seed)
    return Dataset(fixture(Train, rng, 512), fixture(Test, rng, 64), validation=fixture(Validation, rng, 64),
                   experiments={"probe": Experiment(probe, data={"x": rng.normal(size=(5, 3))}), "broken": Experiment(broken)})


@problem(task=Regress)
def plain_bowl() -> Data:
    rng = np.random.default_rng(1)
    return Dataset(fixture(Train, rng, 64), fixture(Test, rng, 16), experiments={"probe": Experiment(probe, data={"x": np.ones((2, 3))})})


@converter(cost=1.0)
def to_sequence(x: Annotated[NDArray[np.float32], Tensor(3)]) -> Annotated[NDArray[np.float32], Sequence(3, 1)]:
    """Each input doubled, as a sequence; written with jax.numpy."""
    return jnp.asarray(x)[..., None] * 2.0


@converter(cost=1.0)
def to_series(x: Annotated[NDArray[np.float32], Tensor(3)]) -> Annotated[NDArray[np.float32], TimeSeries(3, 1)]:
    """The same with NumPy: it does not trace."""
    return np.asarray(x)[..., None] * 2.0


@model(task=Regress)
def exact(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: jnp.sum(q ** 2 * COEF, axis=-1), how="the exact energy, in jax.numpy")


@model(task=Regress)
def exact_on_sequence(x: Annotated[Input, Sequence("t", 1)]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: jnp.sum((q[..., 0] / 2.0) ** 2 * COEF, axis=-1), how="exact, after the converter")


@model(task=Regress)
def exact_on_series(x: Annotated[Input, TimeSeries("t", 1)]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: jnp.sum((q[..., 0] / 2.0) ** 2 * COEF, axis=-1), how="exact, after a NumPy converter")


class Own:
    """A NumPy predictor giving its slope itself."""

    def __call__(self, q):
        return energy(np.asarray(q))

    def slope(self, q):
        return slope(np.asarray(q))


@model(task=Regress)
def numpy_exact(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: Own(), how="NumPy, with its own slope method")


@model(task=Regress)
def numpy_only(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: energy(np.asarray(q)), how="NumPy, without a slope")


@model(task=Regress)
def saw_forces(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    """Predicts 1 where its fit saw the slope metadata, else 0."""
    return Fitted(lambda train: (lambda seen: lambda q: np.full(len(q), seen))(float("slope" in train.meta)), how="meta seen")


@model(task=Regress)
def smooth(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(32), Tanh(), Linear(1))


@model(task=Regress)
def smooth_series(x: Annotated[Input, TimeSeries("t", 1)]) -> Annotated[Layer, Scalar()]:
    from sail_types import Flatten
    return Pipeline(Flatten(), Linear(1))


@metric(goal="min")
def slope_mae(ev: Annotated[Evaluation, Scalar()]) -> float:
    if "slope" not in ev.gradients:
        return float("nan")
    return float(np.mean(np.abs(ev.gradients["slope"] - ev.meta["slope"])))


@metric(goal="max")
def probe_mean(ev: Evaluation) -> float:
    return float(ev.observations["probe"]["mean"]) if "probe" in ev.observations else float("nan")


@hookimpl
def saibench_modules():
    return [bowl, plain_bowl, to_sequence, to_series, exact, exact_on_sequence, exact_on_series, numpy_exact, numpy_only,
            saw_forces, smooth, smooth_series, slope_mae, probe_mean]
'''

COEF = np.array([0.5, 1.0, 2.0])


@pytest.fixture(scope="module")
def bowl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("bowl"), "bowltoy", PLUGIN) as catalog:
        yield catalog


def _run(catalog: Catalog, problem: str, model: str, **trainer: Any) -> Run:
    run = next(r for r in Planner(catalog).runs() if (r.problem, r.model) == (problem, model))
    return attrs.evolve(run, hyper={**run.hyper, "trainer": {**run.hyper.get("trainer", {}), **trainer}})


def test_a_traceable_fitted_predictor_gives_its_exact_gradient_and_the_reference_a_zero_one(bowl: Catalog) -> None:
    out = execute(_run(bowl, "bowl", "exact"), bowl)
    assert out["metrics"]["slope_mae"] == pytest.approx(0.0, abs=1e-5)
    assert out["validation_metrics"]["slope_mae"] == pytest.approx(0.0, abs=1e-5)
    # the reference baseline is a constant: its slope error is the mean |true slope|
    assert out["reference_metrics"]["slope_mae"] == pytest.approx(np.mean(np.abs(_test_slopes())), rel=1e-5)
    assert "gradients_missing" not in out


def _test_slopes() -> np.ndarray:
    rng = np.random.default_rng(0)
    rng.normal(size=(512, 3))  # the training fixture is drawn first
    x = rng.normal(size=(64, 3)).astype(np.float32)
    return 2 * COEF * x


def test_gradients_are_taken_through_a_jax_converter(bowl: Catalog) -> None:
    run = _run(bowl, "bowl", "exact_on_sequence")
    assert run.chain == ("to_sequence",)
    out = execute(run, bowl)
    assert out["metrics"]["slope_mae"] == pytest.approx(0.0, abs=1e-5)  # d/dx of E(2x / 2), not of E(2x)


def test_a_numpy_predictor_gives_its_own_gradient_method_or_none(bowl: Catalog) -> None:
    own = execute(_run(bowl, "bowl", "numpy_exact"), bowl)
    assert own["metrics"]["slope_mae"] == pytest.approx(0.0, abs=1e-6)
    assert own["experiments"]["probe"]["observations"]["traced"] == 0.0
    none = execute(_run(bowl, "bowl", "numpy_only"), bowl)
    assert math.isnan(none["metrics"]["slope_mae"])
    assert "gradients it gives: none" in none["gradients_missing"]["slope"]
    series = execute(_run(bowl, "bowl", "exact_on_series"), bowl)  # a NumPy chain: no derivative through it
    assert math.isnan(series["metrics"]["slope_mae"]) and "slope" in series["gradients_missing"]


def test_fit_sees_the_training_fixtures_metadata(bowl: Catalog) -> None:
    assert execute(_run(bowl, "bowl", "saw_forces"), bowl)["metrics"]["mae"] != execute(_run(bowl, "plain_bowl", "saw_forces"),
                                                                                        bowl)["metrics"]["mae"]


def test_experiments_observe_the_trained_model_and_one_that_fails_fails_alone(bowl: Catalog) -> None:
    out = execute(_run(bowl, "bowl", "exact"), bowl)
    probe = out["experiments"]["probe"]
    assert probe["observations"]["traced"] == 1.0 and probe["observations"]["slope_error"] < 1e-5
    assert set(probe["observations"]) == {"mean", "traced", "slope_error"}  # the stored ones are the numbers
    assert out["metrics"]["probe_mean"] == probe["observations"]["mean"]
    assert math.isnan(out["validation_metrics"]["probe_mean"])  # observations are the test evaluation's
    assert out["experiments"]["broken"]["failed"] == "experiment 'broken' raised RuntimeError: the experiment broke"


def test_a_trained_network_learns_the_gradient_target(bowl: Catalog) -> None:
    out = execute(_run(bowl, "bowl", "smooth", epochs=200), bowl)
    assert out["metrics"]["slope_mae"] < 0.35 * out["reference_metrics"]["slope_mae"], out["metrics"]
    assert out["experiments"]["probe"]["observations"]["traced"] == 1.0
    assert out["experiments"]["probe"]["observations"]["slope_error"] < 2.0


def test_a_trained_network_with_a_numpy_chain_cannot_take_gradients_and_says_how_to_fix_it(bowl: Catalog) -> None:
    with pytest.raises(UsageError, match=re.escape("converter chain to_series is not written with jax.numpy, but the problem's "
                                                   "Gradient 'slope' needs derivatives taken through it")):
        execute(_run(bowl, "bowl", "smooth_series"), bowl)
    plain = execute(_run(bowl, "plain_bowl", "smooth_series", epochs=2), bowl)  # no gradient asked: the NumPy chain is fine
    assert plain["experiments"]["probe"]["observations"]["traced"] == 0.0


def test_the_gradient_loss_matches_finite_differences() -> None:
    model = compile_model(sail.Pipeline(sail.Linear(8), sail.Tanh(), sail.Linear(1)), {})
    params, _ = model.init(jax.random.key(0), (3,))
    rng = np.random.default_rng(2)
    x, y, true = rng.normal(size=(16, 3)), rng.normal(size=16), rng.normal(size=(16, 2))
    gradient = sail.Gradient("g", wrt=np.s_[1:], sign=-1.0, weight=0.7)
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        value = float(loss_function(model, sail.Regress, gradients=[gradient])(p64, jnp.asarray(x), (jnp.asarray(y), jnp.asarray(true))))
        f = lambda a: np.asarray(model.apply(p64, jnp.asarray(a))).reshape(-1)  # noqa: E731
        h = 1e-6
        fd = np.stack([(f(x + h * np.eye(3)[i]) - f(x - h * np.eye(3)[i])) / (2 * h) for i in range(3)], axis=1)
        expected = np.mean((f(x) - y) ** 2) + 0.7 * np.mean((-fd[:, 1:] - true) ** 2)
    assert value == pytest.approx(expected, rel=1e-6)


def test_gradient_declarations_are_checked() -> None:
    with pytest.raises(sail.InvalidSignature, match="wrt indexes one sample's input"):
        sail.Gradient("forces", wrt="positions")  # type: ignore[arg-type]
    with pytest.raises(sail.InvalidValue, match="weight is >= 0"):
        sail.Gradient("forces", weight=-1.0)
    with pytest.raises(sail.InvalidValue, match="two gradients share a name"):
        sail.problem(task=sail.Regress, gradients=[sail.Gradient("f"), sail.Gradient("f")])
    with pytest.raises(sail.InvalidSignature, match="experiments map names to sail_types.Experiment"):
        sail.Dataset(sail.Train(np.zeros((1, 1)), np.zeros(1)), sail.Test(np.zeros((1, 1)), np.zeros(1)),
                     experiments={"rollout": lambda model, data: {}})  # type: ignore[dict-item]


def test_a_regressor_starts_at_its_targets_scale_and_classifiers_and_images_are_left_alone() -> None:
    from saibench_core.compile.standardize import standardized, target_scale

    y = np.array([140.0, 150.0, 170.0])
    assert target_scale(sail.Regress, sail.Scalar(), y) == pytest.approx((float(np.mean(y)), float(np.std(y))))
    assert target_scale(sail.Regress, sail.Scalar(), np.full(3, 2.0)) == (2.0, 1.0)  # constant targets: shift only
    assert target_scale(sail.Classify, sail.Label(3), np.array([0, 1, 2])) is None
    assert target_scale(sail.Denoise, sail.Image(4, 4, 1), np.zeros((2, 4, 4, 1))) is None
    model = compile_model(sail.Pipeline(sail.Linear(1)), {})
    params, _ = model.init(jax.random.key(0), (2,))
    zero = jax.tree.map(jnp.zeros_like, params)
    scaled = standardized(model, (150.0, 12.5))
    x = jnp.ones((4, 2))
    np.testing.assert_allclose(scaled.apply(zero, x), 150.0)  # a network at zero predicts the training mean
    np.testing.assert_allclose(scaled.apply(params, x), 150.0 + 12.5 * model.apply(params, x), rtol=1e-6)
