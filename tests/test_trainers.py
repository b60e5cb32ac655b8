"""Trainers that fit the problem (issue 10 item 6): optimizers sized from the run's real
number of updates, gradient clipping and weight decay, a trainer's own loss, and early
stopping on the validation loss, each against an independent NumPy computation."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from saibench_standard.trainers import adam, adamw_cosine

from saibench_core.compile import compile_model, fit
from saibench_core.compile.train import TrainState, make_train_fn, optimizer_of
from saibench_core.errors import UsageError
from sail_types import InvalidSignature, Linear, Pipeline, Relu, Training


def _line(n: int = 48, d: int = 3, scale: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (scale * (x @ rng.normal(size=d) + 0.5 + 0.1 * rng.normal(size=n))).astype(np.float32)
    return x, y


def _cosine(t: int, peak: float, warmup: int, total: int) -> float:
    """optax's warm-up cosine schedule, written out: linear from 0 to ``peak`` over ``warmup``
    steps, then half a cosine down to 0 at step ``total``."""
    if t < warmup:
        return peak * t / warmup
    return peak * 0.5 * (1 + np.cos(np.pi * min(t - warmup, total - warmup) / (total - warmup)))


def test_a_factory_optimizer_is_sized_from_the_real_number_of_updates() -> None:
    x, y = _line(n=50)
    asked: list[int] = []

    def sgd_cosine(steps: int) -> optax.GradientTransformation:
        asked.append(steps)
        return optax.inject_hyperparams(optax.sgd)(learning_rate=optax.warmup_cosine_decay_schedule(0.0, 0.1, steps // 10, steps))

    training = Training(sgd_cosine, epochs=5, batch_size=16)  # 50 // 16 = 3 updates an epoch
    model = compile_model(Pipeline(Linear(1)), {})
    params, _ = model.init(jax.random.key(0), (3,))
    optimizer, steps = optimizer_of(training, len(x))
    assert steps == 15 and asked == [15]
    state, _ = jax.jit(make_train_fn(model, training, "squared_error", len(x)))(
        TrainState(params, optimizer.init(params)), jax.random.key(1), x, y)
    count, lr_last = int(state.opt_state.count), float(state.opt_state.hyperparams["learning_rate"])
    assert count == 15  # every update of the run went through the schedule
    assert lr_last == pytest.approx(_cosine(14, 0.1, 1, 15), rel=1e-5) and lr_last > 0  # the last update's rate
    assert float(optimizer.init(params).hyperparams["learning_rate"]) == 0.0
    schedule = optax.warmup_cosine_decay_schedule(0.0, 0.1, 1, 15)
    assert float(schedule(count)) == 0.0  # the end value, reached exactly after the last update
    assert fit(model, training, "squared_error", x, y, key=jax.random.key(0)).steps == 15
    # a fixed optimizer is still taken as it is
    fixed = optax.adam(1e-3)
    assert Training(fixed, epochs=1, batch_size=8).optimizer_for(123) is fixed


def test_adamw_cosine_ends_its_schedule_at_the_last_update_whatever_the_data_size() -> None:
    for n, batch, epochs in ((300, 64, 7), (5000, 32, 3)):
        steps = epochs * (n // batch)
        training = adamw_cosine(epochs=epochs, batch_size=batch)
        _, counted = optimizer_of(training, n)
        assert counted == steps
        params = {"w": jnp.zeros(2)}
        inner = optax.warmup_cosine_decay_schedule(0.0, 3e-3, max(1, steps // 20), steps)
        expected = [_cosine(t, 3e-3, max(1, steps // 20), steps) for t in range(steps + 1)]
        np.testing.assert_allclose([float(inner(t)) for t in range(steps + 1)], expected, rtol=1e-5, atol=1e-9)
        assert expected[-1] == 0.0 and expected[-2] > 0.0
        # the trainer's updates follow exactly that schedule: gradient 1 everywhere, no decay
        plain = adamw_cosine(epochs=epochs, batch_size=batch, weight_decay=0.0).optimizer_for(steps)
        state = plain.init(params)
        lrs = []
        for _ in range(steps):
            updates, state = plain.update({"w": jnp.ones(2)}, state, params)
            lrs.append(-float(updates["w"][0]))  # Adam's step is ±lr·(1 − tiny) for a constant gradient
        np.testing.assert_allclose(lrs, expected[:-1], rtol=1e-4, atol=1e-10)


def _adamw_numpy(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray, rates: list[float], wd: float,
                 clip: float | None) -> tuple[np.ndarray, float]:
    """Full-batch AdamW on squared error of ``x @ w + b``, by hand, in float64."""
    p = np.concatenate([w, [b]])
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    xb = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    for t, lr in enumerate(rates, start=1):
        g = 2 * xb.T @ (xb @ p - y) / len(x)
        if clip is not None:
            g = g * min(1.0, clip / np.linalg.norm(g))
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - lr * ((m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8) + wd * p)
    return p[:-1], float(p[-1])


@pytest.mark.parametrize("clip", [None, 0.5, 1e-8])
def test_clipping_and_weight_decay_match_adamw_by_hand(clip: float | None) -> None:
    x, y = _line(n=32, scale=20.0)  # large gradients: clipping binds at every step
    epochs, wd, peak = 4, 0.1, 0.05
    training = adamw_cosine(epochs=epochs, batch_size=32, peak_learning_rate=peak, weight_decay=wd, clip_norm=clip)
    model = compile_model(Pipeline(Linear(1)), {})
    start = ({"w": jnp.asarray(np.linspace(-1, 1, 3, dtype=np.float32)[:, None]), "b": jnp.asarray([0.3], jnp.float32)},)
    trained = fit(model, training, "squared_error", x, y, key=jax.random.key(0), initial=lambda fresh: start)
    rates = [_cosine(t, peak, 1, epochs) for t in range(epochs)]  # 4 updates: warm-up 1, decay to step 4
    w, b = _adamw_numpy(np.linspace(-1, 1, 3), 0.3, x.astype(np.float64), y.astype(np.float64), rates, wd, clip)
    np.testing.assert_allclose(np.asarray(trained.params[0]["w"])[:, 0], w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(trained.params[0]["b"][0]), b, rtol=1e-4, atol=1e-6)
    if clip is not None and clip < 1e-6:  # Adam undoes a constant rescaling, save for its ε: a tiny clip shows
        unclipped = _adamw_numpy(np.linspace(-1, 1, 3), 0.3, x.astype(np.float64), y.astype(np.float64), rates, wd, None)
        assert np.abs(unclipped[0] - w).max() > 1e-3


def huber(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    r = jnp.abs(outputs - targets)
    return jnp.where(r <= 1.0, 0.5 * r**2, r - 0.5)


def test_a_trainers_own_loss_replaces_the_tasks() -> None:
    x, y = _line(n=40, scale=3.0)
    model = compile_model(Pipeline(Linear(1)), {})
    training = Training(optax.sgd(0.0), epochs=2, batch_size=40, loss=huber)  # lr 0: every epoch sees the initial params
    trained = fit(model, training, "squared_error", x, y, key=jax.random.key(0))
    out = np.asarray(model.apply(trained.params, x), np.float64)[:, 0]
    r = np.abs(out - y)
    expected = np.mean(np.where(r <= 1.0, 0.5 * r**2, r - 0.5))
    np.testing.assert_allclose(trained.epoch_losses, [expected, expected], rtol=1e-5)
    assert not np.isclose(expected, np.mean(r**2))  # the task's squared error would differ
    with pytest.raises(InvalidSignature, match="callable"):
        Training(optax.sgd(0.1), epochs=1, batch_size=1, loss="huber")  # type: ignore[arg-type]


def _overfitting() -> tuple[Any, Training, tuple[np.ndarray, ...]]:
    """A wide MLP on 12 noisy samples: the validation loss falls, then rises."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=8)
    x, xv = rng.normal(size=(12, 8)).astype(np.float32), rng.normal(size=(200, 8)).astype(np.float32)
    y = (x @ w + 1.5 * rng.normal(size=12)).astype(np.float32)
    yv = (xv @ w).astype(np.float32)
    model = compile_model(Pipeline(Linear(128), Relu(), Linear(1)), {})
    return model, Training(optax.adam(1e-2), epochs=300, batch_size=12, patience=5), (x, y, xv, yv)


def test_early_stopping_returns_the_best_epochs_parameters() -> None:
    model, training, (x, y, xv, yv) = _overfitting()
    trained = fit(model, training, "squared_error", x, y, key=jax.random.key(0), validation=(xv, yv), snapshots=True)
    assert trained.stopped_early and trained.best_epoch is not None
    assert trained.epochs_run == trained.best_epoch + 5 < 300
    assert trained.validation_losses is not None and len(trained.validation_losses) == len(trained.epoch_losses) == trained.epochs_run
    assert trained.best_epoch == int(np.argmin(trained.validation_losses)) + 1
    assert trained.best_epoch > 1 and trained.validation_losses[-1] > trained.validation_losses[trained.best_epoch - 1]
    # the validation losses recorded in the scan, recomputed in NumPy from the snapshots
    assert trained.snapshots is not None
    for epoch in (0, trained.best_epoch - 1, trained.epochs_run - 1):
        p = jax.tree.map(lambda leaf, e=epoch: np.asarray(leaf[e], np.float64), trained.snapshots)
        pred = (np.maximum(xv @ p[0]["w"] + p[0]["b"], 0) @ p[2]["w"] + p[2]["b"])[:, 0]
        np.testing.assert_allclose(trained.validation_losses[epoch], np.mean((pred - yv) ** 2), rtol=1e-4)
    # the same seed trained for exactly best_epoch epochs, without stopping, ends on the same parameters
    exact = fit(model, Training(optax.adam(1e-2), epochs=trained.best_epoch, batch_size=12), "squared_error", x, y,
                key=jax.random.key(0))
    for got, want in zip(jax.tree.leaves(trained.params), jax.tree.leaves(exact.params), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(trained.epoch_losses[: trained.best_epoch], exact.epoch_losses, rtol=1e-5)


def test_patience_longer_than_the_run_trains_every_epoch() -> None:
    model, _, (x, y, xv, yv) = _overfitting()
    trained = fit(model, Training(optax.adam(1e-3), epochs=6, batch_size=12, patience=50), "squared_error", x, y,
                  key=jax.random.key(0), validation=(xv, yv))
    assert not trained.stopped_early and trained.epochs_run == 6 and trained.best_epoch is not None
    assert trained.validation_losses is not None and np.isfinite(trained.validation_losses).all()


def test_patience_needs_a_validation_fixture_and_a_whole_number() -> None:
    model, training, (x, y, _, _) = _overfitting()
    with pytest.raises(UsageError, match="validation"):
        fit(model, training, "squared_error", x, y, key=jax.random.key(0))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidSignature, match="patience"):
            Training(optax.adam(1e-3), epochs=3, batch_size=4, patience=bad)  # type: ignore[arg-type]


def test_the_bundled_adam_is_unchanged() -> None:
    training = adam()
    assert training.patience is None and training.loss is None and not callable(training.optimizer)


PATIENT = '''
from typing import Annotated
import numpy as np
from numpy.typing import NDArray
from sail_types import (Dataset, Input, Layer, Linear, Pipeline, Regress, Relu, Scalar, Tensor, Test, Train, Training,
                        hookimpl, model, problem, trainer)


def huber(outputs, targets):
    import jax.numpy as jnp
    r = jnp.abs(outputs - targets)
    return jnp.where(r <= 1.0, 0.5 * r ** 2, r - 0.5)


@problem(task=Regress)
def few_noisy() -> Dataset[Annotated[NDArray[np.float32], Tensor(8)], Annotated[NDArray[np.float32], Scalar()]]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(240, 8)).astype(np.float32)
    y = (x @ rng.normal(size=8) + 1.5 * rng.normal(size=240)).astype(np.float32)
    return Dataset(Train(x[:40], y[:40]), Test(x[40:], y[40:]))


@model(task=Regress)
def wide(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(128), Relu(), Linear(1))


@trainer()
def patient(*, epochs: int = 400, batch_size: int = 64, patience: int = 5) -> Training:
    import optax
    return Training(lambda steps: optax.adam(optax.cosine_decay_schedule(1e-2, steps)), epochs=epochs, batch_size=batch_size,
                    patience=patience, loss=huber)


@hookimpl
def saibench_modules():
    return [few_noisy, wide, patient]
'''


def test_a_pod_records_what_early_stopping_did(tmp_path: Any) -> None:
    from saibench_core.discovery import load_catalog
    from saibench_core.execute.pod import execute
    from saibench_core.planner import Planner

    from . import fake_plugin

    fake_plugin.install(tmp_path, "patienttoy", PATIENT)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(tmp_path))
        catalog = load_catalog()
        run = next(r for r in Planner(catalog).runs() if (r.problem, r.model, r.trainer) == ("few_noisy", "wide", "patient"))
        out = execute(run, catalog)
    done = out["training"]
    assert done["stopped_early"] and done["patience"] == 5 and done["own_loss"]
    assert done["epochs_run"] == done["best_epoch"] + 5 < done["epochs"] == 400
    assert done["steps"] == 400 * (out["n_train"] // min(64, out["n_train"]))  # the schedule spans every epoch asked for
    assert len(out["epoch_losses"]) == done["epochs_run"]
