"""Concepts and primitives of SAIL: task kinds, fixtures, and what modules hand over."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._errors import InvalidSignature, InvalidValue
from ._experiments import Experiment

if TYPE_CHECKING:
    import optax

X = TypeVar("X")
Y = TypeVar("Y")


LOSSES = ("cross_entropy", "squared_error", "absolute_error")
PREDICTIONS = ("argmax", "identity")


def _check_loss(task: object, attribute: object, loss: str | Callable[..., Any] | None) -> None:
    if loss is not None and not callable(loss) and loss not in LOSSES:
        raise InvalidSignature(repr(loss), f"a task's loss is one of {', '.join(LOSSES)}, or a callable "
                               "loss(outputs, targets) -> per-sample losses written with jax.numpy")


def _check_prediction(task: object, attribute: object, prediction: str | None) -> None:
    if prediction is not None and prediction not in PREDICTIONS:
        raise InvalidSignature(repr(prediction), f"a task's prediction is one of {', '.join(PREDICTIONS)}: 'argmax' "
                               "turns per-class scores into a class index, 'identity' keeps the output as it is")


@attrs.frozen(repr=False)
class Task:
    """A task kind: what a problem asks and a model solves, with its training loss and how a
    model's outputs become predictions.

    A task may *refine* another: ``Forecast = Task("Forecast", refines=Regress)`` is a
    regression over ordered data, so a Forecast problem accepts every model that solves
    Regress (not the other way round), and inherits the loss and prediction it does not set.
    Plugins define their own tasks the same way.

    Args:
        name: the task's name, shown in plans and explanations.
        loss: ``"cross_entropy"`` (class indices against per-class scores),
            ``"squared_error"``, ``"absolute_error"``, or a callable
            ``loss(outputs, targets) -> per-sample losses`` written with ``jax.numpy``.
        prediction: ``"argmax"`` (scores to a class index) or ``"identity"``.
        refines: the more general task this one is a case of.

    Example:
        >>> Nowcast = Task("Nowcast", refines=Forecast)
        >>> Nowcast.accepts(Regress), Regress.accepts(Nowcast), Nowcast.loss
        (True, False, 'squared_error')
    """

    name: str
    loss: str | Callable[..., Any] | None = attrs.field(default=None, validator=_check_loss)
    prediction: str | None = attrs.field(default=None, validator=_check_prediction)
    refines: Task | None = None

    def __attrs_post_init__(self) -> None:
        parent = self.refines
        if self.loss is None:
            object.__setattr__(self, "loss", parent.loss if parent else "squared_error")
        if self.prediction is None:
            object.__setattr__(self, "prediction", parent.prediction if parent else "identity")

    def lineage(self) -> tuple[Task, ...]:
        """This task, then each task it refines, most general last."""
        chain: list[Task] = []
        task: Task | None = self
        while task is not None:
            chain.append(task)
            task = task.refines
        return tuple(chain)

    def accepts(self, solver: Task) -> bool:
        """Whether a module solving ``solver`` can take a problem of this task: ``solver`` is
        this task or one it refines."""
        return solver in self.lineage()

    def __repr__(self) -> str:
        return self.name


Classify = Task("Classify", loss="cross_entropy", prediction="argmax")
Regress = Task("Regress", loss="squared_error")
Predict = Task("Predict", loss="squared_error")
Segment = Task("Segment", loss="cross_entropy", prediction="argmax")
Denoise = Task("Denoise", refines=Regress)
Forecast = Task("Forecast", refines=Regress)
# the built-in tasks by name, for display and tests; the engine reads a module's own Task
TASKS = {t.name: t for t in (Classify, Regress, Predict, Segment, Denoise, Forecast)}


def _as_meta(meta: Mapping[str, ArrayLike]) -> dict[str, NDArray[Any]]:
    if not isinstance(meta, Mapping):
        raise InvalidSignature(f"Fixture(meta=<{type(meta).__name__}>)", "a fixture's metadata is a mapping of names to "
                               "arrays, one value per sample: Test(x, y, meta={'station': station_ids})")
    for key in meta:
        if not isinstance(key, str):
            raise InvalidSignature(f"Fixture(meta={{{key!r}: ...}})", "metadata is named by strings: "
                                   f"Test(x, y, meta={{'{key}': values}})")
    return {key: np.asarray(value) for key, value in meta.items()}


def _check_meta(fixture: Fixture[Any, Any], attribute: attrs.Attribute[Any], meta: Mapping[str, NDArray[Any]]) -> None:
    if not meta:
        return
    kind = type(fixture).__name__
    n = len(fixture)
    for key, value in meta.items():
        if np.ndim(value) == 0 or len(value) != n:
            length = "no batch axis (a scalar)" if np.ndim(value) == 0 else f"length {len(value)} along axis 0"
            raise InvalidValue(f"{kind}(meta={{{key!r}: ...}})", f"meta[{key!r}] has {length} but the fixture has {n} "
                               f"samples (len(x)); give one value per sample, in the order of x: "
                               f"{kind}(x, y, meta={{{key!r}: values}}) with len(values) == len(x)")


@attrs.frozen
class Fixture(Generic[X, Y]):
    """Inputs and targets of one split, batch axis first, and optionally per-sample metadata.

    Args:
        x, y: inputs and targets, batch axis first.
        meta: per-sample metadata, keyword only: names to arrays whose first axis is the
            fixture's length, aligned with ``x`` sample for sample (the station or location
            of each sample, its time stamp, group, mask or weight). It is not trained on:
            metrics read it as ``Evaluation.meta`` on the fixture they evaluate (a validation
            fixture carved from ``Train`` takes the same rows of it as of ``x`` and ``y``),
            and it is part of the data's checksum.

    Raises:
        InvalidValue: a metadata array does not have one value per sample.

    Example:
        >>> Test(np.zeros((3, 2)), np.zeros(3), meta={"station": ["a", "b", "a"]}).meta["station"].tolist()
        ['a', 'b', 'a']
    """

    x: X
    y: Y
    meta: Mapping[str, NDArray[Any]] = attrs.field(factory=dict, kw_only=True, converter=_as_meta, validator=_check_meta)

    def __len__(self) -> int:
        return len(self.x)  # type: ignore[arg-type]


class Train(Fixture[X, Y]):
    """The training fixture a problem provides."""


class Test(Fixture[X, Y]):
    """The held-out test fixture a problem provides; metrics are evaluated on it once, at
    the end of the run."""


class Validation(Fixture[X, Y]):
    """The fixture a run is followed and selected on: per-epoch curves, time-to-accuracy,
    and the choice among grid points read it, never the test fixture. A problem may provide
    one; otherwise the engine carves it from the training fixture."""


def _as_experiments(experiments: Mapping[str, Experiment]) -> dict[str, Experiment]:
    return dict(experiments)


@attrs.frozen
class Dataset(Generic[X, Y]):
    """What a problem returns: a train and a test fixture, and optionally a validation one
    (keyword ``validation=``; without it the engine carves one from ``train``) and
    experiments conducted on the trained model (keyword ``experiments=``, names to
    ``Experiment``; their observations reach metrics as ``Evaluation.observations``). The
    problem's return annotation ``Dataset[Annotated[..., Image(8, 8, 1)], Annotated[...,
    Label(10)]]`` is its signature.
    """

    train: Train[X, Y]
    test: Test[X, Y]
    # the plugin's own claim, stored beside the checksum saibench measures; a str, so it
    # serialises (a bytes digest once crashed the runner after training)
    checksum: str = attrs.field(default="", validator=attrs.validators.instance_of(str))
    validation: Validation[X, Y] | None = attrs.field(default=None, kw_only=True)
    experiments: Mapping[str, Experiment] = attrs.field(factory=dict, kw_only=True, converter=_as_experiments)

    def __attrs_post_init__(self) -> None:
        for name, experiment in self.experiments.items():
            if not isinstance(name, str) or not isinstance(experiment, Experiment):
                raise InvalidSignature(f"Dataset(experiments={{{name!r}: ...}})", "experiments map names to "
                                       "sail_types.Experiment(run, data=...): Dataset(..., experiments={'rollout': "
                                       "Experiment(rollout, data={'positions': p})})")


def _check_patience(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidSignature(f"Training(patience={value!r})", "patience is a whole number of epochs ≥ 1, or None "
                               "(no early stopping): Training(optax.adam(1e-3), epochs=100, batch_size=64, patience=10)")


def _check_training_loss(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not callable(value):
        raise InvalidSignature(f"Training(loss={value!r})", "a trainer's loss is a callable loss(outputs, targets) -> "
                               "per-sample losses written with jax.numpy, or None (the task's own loss)")


@attrs.frozen
class Training:
    """What a trainer returns: an optax optimizer and the loop's settings.

    ``optimizer`` is an optax ``GradientTransformation``, or a factory
    ``optimizer(steps) -> GradientTransformation`` called with the run's real number of
    updates (``epochs × (n_train // batch_size)``, known only after the validation carve), so
    that a schedule ends exactly at the last update::

        Training(lambda steps: optax.adamw(optax.warmup_cosine_decay_schedule(
            0.0, 3e-3, steps // 20, steps)), epochs=60, batch_size=64)

    ``patience``: stop when the validation loss has not improved for that many epochs, and
    evaluate the parameters of the best epoch (``None``: no early stopping; the schedule is
    still sized for all ``epochs``). ``loss``: the trainer's own ``loss(outputs, targets) ->
    per-sample losses`` (jax.numpy), trained on instead of the task's; predictions still
    follow the task.
    """

    optimizer: optax.GradientTransformation | Callable[[int], optax.GradientTransformation]
    epochs: int
    batch_size: int
    patience: int | None = attrs.field(default=None, kw_only=True, validator=_check_patience)
    loss: Callable[[Any, Any], Any] | None = attrs.field(default=None, kw_only=True, validator=_check_training_loss)

    def optimizer_for(self, steps: int) -> optax.GradientTransformation:
        """The optimizer for a run of ``steps`` updates (a factory is called with them;
        optax's transformations are NamedTuples, never callable)."""
        if callable(self.optimizer):
            return self.optimizer(steps)
        return self.optimizer


@attrs.frozen
class Device:
    """What a hardware module returns: the JAX platform to run on (``cpu``, ``gpu``, ``tpu``)."""

    platform: str
    description: str = ""
    memory_bytes: int | None = None


@attrs.frozen
class Runtime:
    """What a software module returns: the framework, its version, precision, platforms."""

    framework: str
    version: str
    precision: str
    platforms: tuple[str, ...]


@attrs.frozen
class Input:
    """The symbolic input a model factory receives: its SAIL type and the bound dims."""

    type: Any
    dims: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class Evaluation:
    """Everything a metric may observe about a finished run, on one fixture: the test
    fixture (``fixture == "test"``, evaluated once, at the end) or the validation fixture
    (``"validation"``, the same metrics again, so that grid points are chosen on it).

    Every clock is ``time.perf_counter`` read after ``block_until_ready``.

    Attributes:
        y_true: the fixture's targets (class indices for ``Label``, values otherwise).
        y_pred: predictions in the same form as ``y_true``.
        scores: raw model outputs (class probabilities for ``Label``).
        train_seconds: one execution of the compiled training program (every epoch and
            minibatch, data already on the device), compilation excluded. Steady state: the
            program runs once untimed (warm-up) and its second execution is timed, when the
            warm-up took under 5 s; a longer run is timed on its first execution,
            whose fixed warm-up cost is then small beside it. The ``timing`` event's
            ``train_clock`` says which (``"steady state"`` or ``"first execution"``).
        compile_seconds: tracing, lowering and XLA compilation of the training program,
            recorded apart; the ``timing`` event's ``compile_cache`` says whether JAX's
            persistent compilation cache had it (``"hit"``, 5-20x faster), did not
            (``"miss"``) or was off (``"off"``).
        inference_seconds: median, over several timed passes, of predicting the whole
            fixture end to end: NumPy inputs in, host-to-device transfer, the compiled
            forward pass, device-to-host transfer, NumPy outputs out (compiled and warmed
            up first; each pass in the ``inference`` event).
        n_train, n_validation, n_test: fixture sizes (``n_train`` is what was trained on,
            after any validation carve); epochs: epochs trained.
        events: the run's event stream, in order, each a dict with a ``"kind"``:
            ``epoch`` (``epoch``, ``seconds`` since training began, ``train_loss``, and with
            a metric that ``needs=("epochs",)``, ``validation_loss``, ``validation_accuracy``
            on the validation fixture), ``timing`` (``compile_seconds``, ``compile_cache``,
            ``train_seconds``, ``train_clock``, ``first_execution_seconds``), ``inference``
            (``seconds``: each timed whole-fixture pass, end to end), ``latency``
            (``seconds``: single-sample predictions, end to end, NumPy in and out),
            ``memory`` (``peak_host_bytes``, ``device_bytes`` or ``None`` where the device
            does not say).
        fixture: which fixture ``y_true`` comes from: ``"test"`` or ``"validation"``.
        y_train: the training fixture's targets, as trained on, in time order where the
            data are ordered (climatology, the naive forecast's error for MASE).
        reference: the name of the task's trivial reference baseline (``"majority
            class"``, ``"training mean"``, ``"persistence"``; see
            ``saibench_core.execute.reference``), ``""`` where there is none.
        reference_pred, reference_scores: the reference's predictions and raw outputs
            on this fixture, in the form of ``y_pred`` and ``scores`` (skill scores).
        units: the targets' unit, as the problem declares it (``@problem(unit="K")``).
        meta: the evaluated fixture's per-sample metadata (``Test(x, y, meta={"station":
            ids})``), each array aligned with ``y_true`` sample for sample; empty where the
            problem gives none (a metric that needs a key it lacks returns NaN).
        gradients: the model's values of each gradient the problem declares
            (``@problem(gradients=[Gradient("forces", ...)])``), by name, aligned with
            ``y_true`` sample for sample; the true values are ``meta[name]``. For the
            reference baseline, zeros (a constant has no gradient).
        observations: what each of the problem's experiments observed with the trained
            model, by experiment name (``observations["rollout"]["rmsd"]``); on the test
            fixture's evaluation only (empty on the validation fixture, and for an
            experiment that failed).
    """

    y_true: NDArray[Any]
    y_pred: NDArray[Any]
    scores: NDArray[np.floating[Any]]
    train_seconds: float
    compile_seconds: float
    inference_seconds: float
    n_train: int
    n_test: int
    epochs: int
    events: tuple[dict[str, Any], ...] = ()
    n_validation: int = 0
    fixture: str = "test"
    y_train: NDArray[Any] | None = None
    reference: str = ""
    reference_pred: NDArray[Any] | None = None
    reference_scores: NDArray[Any] | None = None
    units: str = ""
    meta: Mapping[str, NDArray[Any]] = attrs.field(factory=dict, kw_only=True)
    gradients: Mapping[str, NDArray[Any]] = attrs.field(factory=dict, kw_only=True)
    observations: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, kw_only=True)
