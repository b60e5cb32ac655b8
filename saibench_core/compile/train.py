"""The training loop: every epoch and every minibatch inside one ``jax.jit`` with
``lax.scan``, so the host dispatches once per run rather than once per step.

Compilation is timed apart (ahead-of-time ``lower().compile()``); the measured phase
ends with ``block_until_ready`` so the clock never stops before the device does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import NDArray

from sail_types import Training

from .nn import CompiledModel, Params


class TrainState(NamedTuple):
    """Parameters and optimizer state, carried through the scan."""

    params: Params
    opt_state: optax.OptState


class Trained(NamedTuple):
    """The outcome of training: final parameters, per-epoch mean loss and the timings."""

    params: Params
    epoch_losses: NDArray[np.float32]
    compile_seconds: float
    train_seconds: float
    snapshots: Params | None = None  # parameters after each epoch, stacked (``fit(snapshots=True)``)


def loss_function(model: CompiledModel, loss: str) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """The task's loss: softmax cross-entropy on class indices, or mean squared error."""

    def cross_entropy(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        losses: jax.Array = optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y)
        return losses.mean()

    def squared_error(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        error: jax.Array = model.apply(params, x).reshape(y.shape) - y
        return jnp.mean(error**2)

    return cross_entropy if loss == "cross_entropy" else squared_error


def make_train_fn(model: CompiledModel, training: Training, loss: str, n: int, snapshots: bool = False) -> Callable[..., Any]:
    """A pure ``train(state, key, x, y) -> (state, epoch_losses)`` for ``n`` samples; with
    ``snapshots``, ``(state, (epoch_losses, params after each epoch))``."""
    batch = min(training.batch_size, n)
    steps = n // batch
    loss_fn = loss_function(model, loss)
    optimizer = training.optimizer

    def step(state: TrainState, batch_xy: tuple[jax.Array, jax.Array]) -> tuple[TrainState, jax.Array]:
        value, grads = jax.value_and_grad(loss_fn)(state.params, *batch_xy)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state), value

    def train(state: TrainState, key: jax.Array, x: jax.Array, y: jax.Array) -> tuple[TrainState, Any]:
        def epoch(state: TrainState, key: jax.Array) -> tuple[TrainState, Any]:
            # x and y are closed over, not carried: a carried dataset may be copied every epoch
            order = jax.random.permutation(key, n)[: steps * batch].reshape(steps, batch)
            state, losses = jax.lax.scan(step, state, (x[order], y[order]))
            return state, ((losses.mean(), state.params) if snapshots else losses.mean())

        return jax.lax.scan(epoch, state, jax.random.split(key, training.epochs))

    return train


def fit(model: CompiledModel, training: Training, loss: str, x: NDArray[Any], y: NDArray[Any], *, key: jax.Array,
        initial: Callable[[Params], Params] | None = None, snapshots: bool = False) -> Trained:
    """Initialise and train ``model`` on ``(x, y)``; timings exclude compilation.

    ``initial`` maps the fresh parameters to the starting ones (e.g. loads saved weights).
    ``snapshots`` keeps the parameters after every epoch (scan outputs, so the training
    clock only pays for writing them), for metrics that follow training epoch by epoch.
    """
    init_key, train_key = jax.random.split(key)
    params, _ = model.init(init_key, tuple(x.shape[1:]))
    if initial is not None:
        params = initial(params)
    state = TrainState(params, training.optimizer.init(params))
    xd, yd = jax.device_put(x), jax.device_put(y)
    start = time.perf_counter()
    compiled = jax.jit(make_train_fn(model, training, loss, len(x), snapshots)).lower(state, train_key, xd, yd).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    state, out = compiled(state, train_key, xd, yd)
    jax.block_until_ready((state, out))  # type: ignore[no-untyped-call]
    train_seconds = time.perf_counter() - start
    losses, stacked = out if snapshots else (out, None)
    return Trained(state.params, np.asarray(losses), compile_seconds, train_seconds, stacked)


def epoch_scores(model: CompiledModel, loss: str, snapshots: Params, x: NDArray[Any], y: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Test loss and accuracy (NaN for regression) after every epoch, from the snapshots;
    evaluated after training, off the training clock."""
    loss_fn = loss_function(model, loss)
    xd, yd = jnp.asarray(x), jnp.asarray(y)

    def one(params: Params) -> tuple[jax.Array, jax.Array]:
        if loss == "cross_entropy":
            return loss_fn(params, xd, yd), jnp.mean(model.apply(params, xd).argmax(-1) == yd)
        return loss_fn(params, xd, yd), jnp.array(jnp.nan)

    losses, accuracies = jax.jit(jax.vmap(one))(snapshots)
    return np.asarray(losses), np.asarray(accuracies)


def latencies(model: CompiledModel, params: Params, x: NDArray[Any], n: int = 200) -> NDArray[np.float64]:
    """Seconds to predict one sample, ``n`` times (samples cycled from ``x``), compiled and
    warmed up, each clock read after ``block_until_ready``."""
    fn = jax.jit(model.apply)
    xs = [jax.device_put(x[i % len(x)][None]) for i in range(n)]
    jax.block_until_ready(fn(params, xs[0]))  # type: ignore[no-untyped-call]
    out = np.empty(n)
    for i, sample in enumerate(xs):
        start = time.perf_counter()
        jax.block_until_ready(fn(params, sample))  # type: ignore[no-untyped-call]
        out[i] = time.perf_counter() - start
    return out


def predict(model: CompiledModel, params: Params, x: NDArray[Any]) -> tuple[NDArray[Any], float]:
    """Model outputs on ``x`` (probabilities when the model ends in Softmax) and the
    seconds one compiled, warmed-up pass over ``x`` takes."""

    def forward(p: Params, batch: jax.Array) -> jax.Array:
        out = model.apply(p, batch)
        return jax.nn.softmax(out, axis=-1) if model.outputs_probabilities else out

    fn = jax.jit(forward)
    xd = jax.device_put(x)
    jax.block_until_ready(fn(params, xd))  # type: ignore[no-untyped-call]
    start = time.perf_counter()
    out = jax.block_until_ready(fn(params, xd))  # type: ignore[no-untyped-call]
    return np.asarray(out), time.perf_counter() - start
