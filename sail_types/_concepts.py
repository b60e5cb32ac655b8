"""Concepts and primitives of SAIL: task kinds, fixtures, and what modules hand over."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import optax

X = TypeVar("X")
Y = TypeVar("Y")


@attrs.frozen
class Task:
    """A task kind. Problems and models of the same task kind can meet; the task decides
    the training loss (cross-entropy for ``Classify``, squared error for regression kinds).
    """

    name: str
    loss: str

    def __repr__(self) -> str:
        return self.name


Classify = Task("Classify", loss="cross_entropy")
Regress = Task("Regress", loss="squared_error")
Predict = Task("Predict", loss="squared_error")
Segment = Task("Segment", loss="cross_entropy")
Denoise = Task("Denoise", loss="squared_error")
Forecast = Task("Forecast", loss="squared_error")
TASKS = {t.name: t for t in (Classify, Regress, Predict, Segment, Denoise, Forecast)}


@attrs.frozen
class Fixture(Generic[X, Y]):
    """Inputs and targets of one split, batch axis first."""

    x: X
    y: Y

    def __len__(self) -> int:
        return len(self.x)  # type: ignore[arg-type]


class Train(Fixture[X, Y]):
    """The training fixture a problem provides."""


class Test(Fixture[X, Y]):
    """The held-out test fixture a problem provides; metrics are evaluated on it."""


@attrs.frozen
class Dataset(Generic[X, Y]):
    """What a problem returns: a train and a test fixture. The problem's return annotation
    ``Dataset[Annotated[..., Image(8, 8, 1)], Annotated[..., Label(10)]]`` is its signature.
    """

    train: Train[X, Y]
    test: Test[X, Y]
    checksum: str = ""


@attrs.frozen
class Training:
    """What a trainer returns: an optax optimizer and the loop's settings."""

    optimizer: optax.GradientTransformation
    epochs: int
    batch_size: int


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
    """Everything a metric may observe about a finished run on the test fixture.

    Attributes:
        y_true: test targets (class indices for ``Label``, values otherwise).
        y_pred: predictions in the same form as ``y_true``.
        scores: raw model outputs (class probabilities for ``Label``).
        train_seconds: wall time of the measured training phase, compile excluded.
        compile_seconds: time spent compiling the training step (the warm-up).
        inference_seconds: wall time to predict the whole test fixture once, compiled.
        n_train, n_test: fixture sizes; epochs: epochs trained.
        events: the run's event stream, in order, each a dict with a ``"kind"``:
            ``epoch`` (``epoch``, ``seconds`` since training began, ``train_loss``, and with
            a metric that ``needs=("epochs",)``, ``test_loss``, ``test_accuracy``),
            ``timing`` (``compile_seconds``, ``train_seconds``), ``latency`` (``seconds``:
            single-sample predictions), ``memory`` (``peak_host_bytes``, ``device_bytes``
            or ``None`` where the device does not say).
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
