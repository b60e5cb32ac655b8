"""The training loop: every epoch and every minibatch inside one ``jax.jit`` with
``lax.scan``, so the host dispatches once per run rather than once per step.

The loss is the task's own (``Task.loss``: a name or a callable), never looked up by the
task's name. Compilation is timed apart (ahead-of-time ``lower().compile()``, with the
persistent cache's hit or miss); the training clock is described in ``clocks``. A loss,
parameters or predictions that go non-finite fail the run (``finite.NonFinite``).

A trainer's optimizer may be a factory sized from the run's real number of updates
(``Training.optimizer_for``), its loss may replace the task's (``Training.loss``), and with
``Training.patience`` the same one program also evaluates the validation loss after every
epoch, keeps the best epoch's parameters in the scan state and, once patience runs out,
skips the remaining epochs' work under a ``lax.cond`` (``StopState``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import NDArray

from sail_types import Gradient, Task, Training

from ..errors import InvalidSignature, UsageError
from .clocks import cache_state, compile_cache_state, timed_execution
from .finite import NonFinite, check_losses, check_parameters
from .nn import CompiledModel, Params

# a task, or its loss alone: a name or a callable ``loss(outputs, targets) -> per-sample losses``
TaskOrLoss = Task | str | Callable[..., Any]
_PREDICTION_OF = {"cross_entropy": "argmax", "squared_error": "identity", "absolute_error": "identity"}


class TrainState(NamedTuple):
    """Parameters and optimizer state, carried through the scan."""

    params: Params
    opt_state: optax.OptState


class StopState(NamedTuple):
    """Early stopping, carried through the epoch scan beside ``TrainState``: the best
    validation loss so far, its epoch (1-based) and parameters, epochs since it, and
    whether patience has run out."""

    best_params: Params
    best_loss: jax.Array
    best_epoch: jax.Array
    since_best: jax.Array
    stopped: jax.Array


class Trained(NamedTuple):
    """The outcome of training: final parameters, per-epoch mean loss and the clocks
    (see ``sail_types.Evaluation`` for what each covers)."""

    params: Params
    epoch_losses: NDArray[np.float32]
    compile_seconds: float
    train_seconds: float
    snapshots: Params | None = None  # parameters after each epoch, stacked (``fit(snapshots=True)``)
    first_execution_seconds: float = float("nan")
    train_clock: str = ""  # "steady state" or "first execution"
    compile_cache: str = "off"  # "hit", "miss" or "off"
    steps: int = 0  # optimizer updates the schedule was sized for (all epochs)
    # early stopping (``Training.patience``): the epoch whose parameters are ``params``, whether
    # training stopped before its last epoch, and the validation loss after each epoch run
    best_epoch: int | None = None
    stopped_early: bool = False
    validation_losses: NDArray[np.float32] | None = None
    vectorised: int = 1  # repetitions trained together in one vectorised program (``fit_many``); its clocks are shares

    @property
    def epochs_run(self) -> int:
        """Epochs actually trained (fewer than ``Training.epochs`` when stopped early)."""
        return len(self.epoch_losses)


def semantics(task: TaskOrLoss) -> tuple[str | Callable[..., Any], str]:
    """``(loss, prediction)`` of a task, or of a bare loss (a name implies its prediction,
    a callable predicts the outputs as they are).

    Raises:
        InvalidSignature: an unknown loss name (never silently squared error).
    """
    if isinstance(task, Task):
        assert task.loss is not None and task.prediction is not None  # Task fills them in
        return task.loss, task.prediction
    if callable(task):
        return task, "identity"
    if task not in _PREDICTION_OF:
        raise InvalidSignature(repr(task), f"unknown loss; use one of {', '.join(_PREDICTION_OF)}, a callable "
                               "loss(outputs, targets) -> per-sample losses, or a sail_types.Task")
    return task, _PREDICTION_OF[task]


def as_targets(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    """Outputs reshaped to the targets' shape when each sample has as many of both (a
    ``Scalar`` model's ``(n, 1)`` outputs for ``(n,)`` targets); else as they are."""
    return outputs.reshape(targets.shape) if outputs.size == targets.size else outputs


def loss_function(model: CompiledModel, task: TaskOrLoss, loss_override: Callable[..., Any] | None = None,
                  gradients: Sequence[Gradient] = ()) -> Callable[..., jax.Array]:
    """The task's training loss, the mean over the batch of its per-sample losses:
    ``cross_entropy`` (softmax cross-entropy of the model's logits against class indices),
    ``squared_error``, ``absolute_error``, or the task's own callable. For ``identity``
    tasks the outputs are first shaped as the targets (``as_targets``). The returned
    ``mean_loss(params, x, y, key=None)`` passes ``key`` to the model: a key while training
    (dropout active), ``None`` when evaluating. ``loss_override`` (a trainer's
    ``Training.loss``) replaces the task's loss; the prediction stays the task's.

    With ``gradients`` (a problem's ``Gradient`` targets), ``y`` is ``(targets, *true
    gradients)`` and the loss adds each gradient's ``weight ×`` the mean squared error of the
    model's gradient, taken in the same pass as the outputs (``jax.vjp`` of the summed
    outputs with respect to the inputs: each sample's output depends on its own input)."""
    loss, prediction = semantics(task)
    if loss_override is not None:
        loss = loss_override

    def mean_loss(params: Params, x: jax.Array, y: Any, key: jax.Array | None = None) -> jax.Array:
        if not gradients:
            return task_loss(model.apply(params, x, key=key), y)
        outputs, pullback = jax.vjp(lambda inputs: model.apply(params, inputs, key=key), x)
        (input_gradient,) = pullback(jnp.ones_like(outputs))
        total = task_loss(outputs, y[0])
        for gradient, true in zip(gradients, y[1:], strict=True):
            total = total + gradient.weight * jnp.mean((gradient.take(input_gradient) - true) ** 2)
        return total

    def task_loss(outputs: jax.Array, y: jax.Array) -> jax.Array:
        if loss == "cross_entropy":
            losses: jax.Array = optax.softmax_cross_entropy_with_integer_labels(outputs, y)
            return losses.mean()
        if prediction == "identity":
            outputs = as_targets(outputs, y)
        if loss == "squared_error":
            return jnp.mean((outputs - y) ** 2)
        if loss == "absolute_error":
            return jnp.mean(jnp.abs(outputs - y))
        assert callable(loss)
        return jnp.mean(loss(outputs, y))

    return mean_loss


def optimizer_of(training: Training, n: int) -> tuple[optax.GradientTransformation, int]:
    """``(optimizer, steps)`` for training on ``n`` samples: ``steps`` is the number of
    updates of all epochs, ``epochs × (n // batch)``, and a factory optimizer is sized by it."""
    steps = training.epochs * (n // min(training.batch_size, n))
    return training.optimizer_for(steps), steps


def make_train_fn(model: CompiledModel, training: Training, task: TaskOrLoss, n: int, snapshots: bool = False,
                  optimizer: optax.GradientTransformation | None = None, gradients: Sequence[Gradient] = ()) -> Callable[..., Any]:
    """A pure ``train(state, key, x, y) -> (state, epoch_losses)`` for ``n`` samples; with
    ``snapshots``, ``(state, (epoch_losses, params after each epoch))``.

    With ``training.patience``: ``train(state, key, x, y, x_val, y_val) -> ((state, stop),
    (epoch_losses, validation_losses[, snapshots]))``, ``stop`` a ``StopState``; epochs after
    the stop run neither updates nor evaluation (their losses are NaN).

    ``optimizer`` is the one the state was initialised with (``optimizer_of(training, n)``,
    built here when not given). With ``gradients``, ``y`` is ``(targets, *true gradients)``
    (see ``loss_function``)."""
    batch = min(training.batch_size, n)
    steps = n // batch
    loss_fn = loss_function(model, task, training.loss, gradients)
    if optimizer is None:
        optimizer, _ = optimizer_of(training, n)

    def step(state: TrainState, batch_xyk: tuple[jax.Array, Any, jax.Array]) -> tuple[TrainState, jax.Array]:
        value, grads = jax.value_and_grad(loss_fn)(state.params, *batch_xyk)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return TrainState(optax.apply_updates(state.params, updates), opt_state), value

    def one_epoch(state: TrainState, key: jax.Array, x: jax.Array, y: Any) -> tuple[TrainState, jax.Array]:
        """One epoch's updates on a fresh batch order; ``(state, per-step losses)``."""
        # x and y are closed over by the callers, not carried: a carried dataset may be copied every epoch
        order = jax.random.permutation(key, n)[: steps * batch].reshape(steps, batch)
        # the layers' keys (dropout) from a key of their own: batch orders stay as they were
        batches = jax.tree.map(lambda leaf: leaf[order], y)
        return jax.lax.scan(step, state, (x[order], batches, jax.random.split(jax.random.fold_in(key, 1), steps)))

    def train(state: TrainState, key: jax.Array, x: jax.Array, y: Any) -> tuple[TrainState, Any]:
        def epoch(state: TrainState, key: jax.Array) -> tuple[TrainState, Any]:
            state, losses = one_epoch(state, key, x, y)
            return state, ((losses.mean(), state.params) if snapshots else losses.mean())

        return jax.lax.scan(epoch, state, jax.random.split(key, training.epochs))

    if training.patience is None:
        return train
    patience = training.patience

    def train_stopping(state: TrainState, key: jax.Array, x: jax.Array, y: Any, xv: jax.Array,
                       yv: Any) -> tuple[tuple[TrainState, StopState], Any]:
        def run(carry: tuple[TrainState, StopState], key: jax.Array, number: jax.Array) -> tuple[tuple[TrainState, StopState], Any]:
            state, stop = carry
            state, losses = one_epoch(state, key, x, y)
            validation = loss_fn(state.params, xv, yv).astype(jnp.float32)
            improved = validation < stop.best_loss  # a NaN never improves
            since = jnp.where(improved, 0, stop.since_best + 1)
            stop = StopState(jax.tree.map(lambda new, old: jnp.where(improved, new, old), state.params, stop.best_params),
                             jnp.where(improved, validation, stop.best_loss), jnp.where(improved, number, stop.best_epoch),
                             since, since >= patience)
            return (state, stop), (losses.mean().astype(jnp.float32), validation)

        def skip(carry: tuple[TrainState, StopState], key: jax.Array, number: jax.Array) -> tuple[tuple[TrainState, StopState], Any]:
            return carry, (jnp.float32(jnp.nan), jnp.float32(jnp.nan))

        def epoch(carry: tuple[TrainState, StopState], key_number: tuple[jax.Array, jax.Array]) -> tuple[tuple[TrainState, StopState], Any]:
            carry, (loss, validation) = jax.lax.cond(carry[1].stopped, skip, run, carry, *key_number)
            return carry, ((loss, validation, carry[0].params) if snapshots else (loss, validation))

        stop = StopState(state.params, jnp.float32(jnp.inf), jnp.int32(0), jnp.int32(0), jnp.bool_(False))
        numbers = jnp.arange(1, training.epochs + 1, dtype=jnp.int32)
        return jax.lax.scan(epoch, (state, stop), (jax.random.split(key, training.epochs), numbers))

    return train_stopping


def fit(model: CompiledModel, training: Training, task: TaskOrLoss, x: NDArray[Any], y: Any, *, key: jax.Array,
        initial: Callable[[Params], Params] | None = None, snapshots: bool = False,
        validation: tuple[NDArray[Any], Any] | None = None, gradients: Sequence[Gradient] = ()) -> Trained:
    """Initialise and train ``model`` on ``(x, y)`` with ``task``'s loss; timings exclude
    compilation (``clocks.timed_execution`` says what the training clock covers).

    ``initial`` maps the fresh parameters to the starting ones (e.g. loads saved weights).
    ``snapshots`` keeps the parameters after every epoch (scan outputs, so the training
    clock only pays for writing them), for metrics that follow training epoch by epoch.
    ``validation`` (the validation fixture) is read only by early stopping
    (``training.patience``): the returned ``params`` are then the best epoch's, and
    ``epoch_losses`` and ``snapshots`` cover the epochs run. With ``gradients`` (a problem's
    ``Gradient`` targets), ``y`` and the validation targets are ``(targets, *true
    gradients)`` and the loss adds their weighted squared errors (``loss_function``).

    Raises:
        UsageError: ``training.patience`` without a ``validation`` fixture.
        NonFinite: the training loss of some epoch, or a final parameter, is NaN or
            infinite; the message names the first such epoch or the parameters.
    """
    init_key, train_key = jax.random.split(key)
    params, _ = model.init(init_key, tuple(x.shape[1:]))
    if initial is not None:
        params = initial(params)
    optimizer, steps = optimizer_of(training, len(x))
    state = TrainState(params, optimizer.init(params))
    args: tuple[Any, ...] = (state, train_key, jax.device_put(x), jax.device_put(y))
    if training.patience is not None:
        x_val, y_val = _validation(training, validation)
        args += (jax.device_put(x_val), jax.device_put(y_val))
    train_fn = make_train_fn(model, training, task, len(x), snapshots, optimizer, gradients)
    (carry, out), common = _compiled_and_run(jax.jit(train_fn), args)
    return _trained(training, carry, out, snapshots, {**common, "steps": steps})


def _validation(training: Training, validation: tuple[NDArray[Any], Any] | None) -> tuple[NDArray[Any], Any]:
    if validation is None:
        raise UsageError("Training(patience=...) stops on the validation loss, but fit() was given no validation fixture; "
                         "pass fit(..., validation=(x_val, y_val))")
    return validation


def _compiled_and_run(program: Any, args: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
    """Compile ``program`` ahead of time for ``args`` (timed, with the persistent cache's
    hit or miss) and run it (``timed_execution``); ``(outputs, clocks)``."""
    with compile_cache_state() as cache_events:
        start = time.perf_counter()
        compiled = program.lower(*args).compile()
        compile_seconds = time.perf_counter() - start
    out, train_seconds, first_seconds, clock = timed_execution(compiled, *args)
    return out, {"compile_seconds": compile_seconds, "train_seconds": train_seconds, "first_execution_seconds": first_seconds,
                 "train_clock": clock, "compile_cache": cache_state(cache_events)}


def _trained(training: Training, carry: Any, out: Any, snapshots: bool, common: dict[str, Any]) -> Trained:
    """``Trained`` from the train program's final carry and outputs (see ``make_train_fn``).

    Raises:
        NonFinite: a loss or a final parameter is NaN or infinite.
    """
    if training.patience is None:
        losses, stacked = out if snapshots else (out, None)
        check_losses(losses)
        check_parameters(carry.params)
        return Trained(carry.params, np.asarray(losses), snapshots=stacked, **common)
    _, stop = carry
    losses, validation_losses, *rest = out
    run = int(stop.best_epoch) + int(stop.since_best) if bool(stop.stopped) else training.epochs
    stacked = jax.tree.map(lambda leaf: leaf[:run], rest[0]) if snapshots else None
    check_losses(losses[:run])
    if int(stop.best_epoch) == 0:  # no epoch had a finite validation loss
        raise NonFinite(f"the validation loss was NaN or infinite after every one of the {run} epochs, so early stopping "
                        "has no best epoch; lower the learning rate or check the validation data", "validation loss")
    check_parameters(stop.best_params)
    return Trained(stop.best_params, np.asarray(losses[:run]), snapshots=stacked, best_epoch=int(stop.best_epoch),
                   stopped_early=bool(stop.stopped) and run < training.epochs,
                   validation_losses=np.asarray(validation_losses[:run]), **common)


def fit_many(model: CompiledModel, training: Training, task: TaskOrLoss, data: Sequence[tuple[NDArray[Any], Any]], *,
             keys: Sequence[jax.Array], snapshots: bool = False,
             validations: Sequence[tuple[NDArray[Any], Any]] | None = None) -> list[Trained | NonFinite]:
    """``fit`` of several repetitions of one configuration (their seeds' ``keys``, each its
    own training data of one shape) as one compiled program, ``jax.vmap`` over their
    initialisations, batch orders and data: one compilation and one dispatch for all.
    Data that every member shares (the same split) is passed once, not stacked.

    Each member's result is what ``fit`` returns for it, or the ``NonFinite`` it raises
    (one member diverging fails that member only). The clocks are the program's, divided
    among the members (``train_seconds``: the vectorised program's time over the members;
    ``vectorised`` in each result says so).
    """
    members = len(keys)
    shape = tuple(data[0][0].shape[1:])
    split = [jax.random.split(key) for key in keys]
    fresh = [model.init(init_key, shape)[0] for init_key, _ in split]
    params = jax.tree.map(lambda *leaves: jnp.stack(leaves), *fresh)
    optimizer, steps = optimizer_of(training, len(data[0][0]))
    state = TrainState(params, jax.vmap(optimizer.init)(params))
    pairs = [data]
    if training.patience is not None:
        pairs.append(validations if validations else [_validation(training, None)])
    args: list[Any] = [state, jnp.stack([train_key for _, train_key in split])]
    axes: list[Any] = [0, 0]
    for fixtures in pairs:
        for part in (0, 1):
            values = [f[part] for f in fixtures]
            same = all(_identical(v, values[0]) for v in values[1:])
            args.append(jax.device_put(values[0]) if same else jax.tree.map(lambda *leaves: jnp.stack(leaves), *values))
            axes.append(None if same else 0)
    train_fn = make_train_fn(model, training, task, len(data[0][0]), snapshots, optimizer)
    (carry, out), common = _compiled_and_run(jax.jit(jax.vmap(train_fn, in_axes=tuple(axes))), tuple(args))
    shared = {**common, "train_seconds": common["train_seconds"] / members, "compile_seconds": common["compile_seconds"] / members,
              "first_execution_seconds": common["first_execution_seconds"] / members, "steps": steps}
    results: list[Trained | NonFinite] = []
    for i in range(members):
        try:
            carry_i, out_i = jax.tree.map(lambda leaf, i=i: leaf[i], (carry, out))
            results.append(_trained(training, carry_i, out_i, snapshots, shared))
        except NonFinite as exc:
            results.append(exc)
    return results


def _identical(a: Any, b: Any) -> bool:
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(leaves_a) == len(leaves_b) and all(x is y or np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b, strict=True))


def epoch_scores(model: CompiledModel, task: TaskOrLoss, snapshots: Params, x: NDArray[Any], y: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """Loss and accuracy (NaN unless the task predicts by ``argmax``) on ``(x, y)`` (the
    validation fixture) after every epoch, from the snapshots; evaluated after training,
    off the training clock."""
    try:
        scorer = _epoch_scorer(model, task)
    except TypeError:  # a task whose loss cannot be hashed: compiled for this call alone
        scorer = _epoch_scorer.__wrapped__(model, task)
    losses, accuracies = scorer(snapshots, jnp.asarray(x), jnp.asarray(y))
    return np.asarray(losses), np.asarray(accuracies)


@functools.lru_cache(maxsize=16)  # a batch pod's members share their model, so this program too
def _epoch_scorer(model: CompiledModel, task: TaskOrLoss) -> Callable[..., Any]:
    loss_fn = loss_function(model, task)
    _, prediction = semantics(task)

    def one(params: Params, xd: jax.Array, yd: jax.Array) -> tuple[jax.Array, jax.Array]:
        if prediction == "argmax":
            return loss_fn(params, xd, yd), jnp.mean(model.apply(params, xd).argmax(-1) == yd)
        return loss_fn(params, xd, yd), jnp.array(jnp.nan)

    return jax.jit(jax.vmap(one, in_axes=(0, None, None)))
