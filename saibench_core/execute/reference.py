"""The trivial reference baseline of a run's task, fitted on its training fixture.

Every run computes it beside the method and evaluates the same prediction metrics on it
(``reference_metrics`` in the result), so that no leaderboard overstates what a learned model
adds, and so that metrics can score skill against it (``Evaluation.reference_pred``):

- ``majority class`` (``argmax`` tasks): every sample's per-class scores are the training
  class frequencies, so its prediction is the most frequent training class.
- ``persistence`` (time-ordered data whose target is the next value of a single-channel
  series): the last input value is the forecast (the naive forecast of Hyndman &
  Koehler 2006).
- ``training mean`` (every other regression): the mean training target, per output element.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from sail_types import Fixture, Task

from ..discovery import Descriptor
from .fixtures import time_ordered

MAJORITY, PERSISTENCE, MEAN = "majority class", "persistence", "training mean"


@attrs.frozen
class Reference:
    """A fitted reference baseline: its ``name`` and what it outputs per sample."""

    name: str
    constant: NDArray[np.float64] | None  # the output for every sample, or None: persistence

    def scores(self, x: NDArray[Any], like: NDArray[Any]) -> NDArray[np.float64]:
        """Its raw outputs for inputs ``x``, shaped and typed as the method's ``like``."""
        if self.constant is None:
            return np.asarray(_last_value(np.asarray(x)), dtype=np.float64).reshape(like.shape)
        constant = self.constant
        if self.name == MAJORITY:  # classes never seen in training score 0
            k = like.shape[-1]
            constant = np.pad(constant, (0, max(k - len(constant), 0)))[:k]
        return np.broadcast_to(constant, like.shape).astype(np.float64)


def _last_value(x: NDArray[Any]) -> NDArray[Any]:
    return x[:, -1, 0] if x.ndim == 3 else x[:, -1]


def _persists(x: NDArray[Any], y: NDArray[Any]) -> bool:
    """Whether ``x`` holds one channel of series whose next value ``y`` is (one per sample)."""
    single = x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 1)
    return single and x.shape[1] >= 1 and y.size == len(y) == len(x)


def fit_reference(task: Task, x_train: Any, y_train: NDArray[Any], ordered: bool) -> Reference:
    """The reference baseline of ``task`` fitted on the training fixture.

    Args:
        x_train, y_train: the training fixture as the problem provides it (before any
            converter: persistence reads the problem's own series).
        ordered: the samples are in time order (``fixtures.time_ordered``).

    Example:
        >>> from sail_types import Classify
        >>> ref = fit_reference(Classify, np.zeros((4, 2)), np.array([0, 1, 1, 1]), False)
        >>> ref.name, ref.scores(np.zeros((1, 2)), np.zeros((1, 3))).tolist()
        ('majority class', [[0.25, 0.75, 0.0]])
    """
    if task.prediction == "argmax":
        counts = np.bincount(np.asarray(y_train, dtype=np.int64).ravel())
        return Reference(MAJORITY, counts / max(counts.sum(), 1))
    if ordered and _persists(np.asarray(x_train), np.asarray(y_train)):
        return Reference(PERSISTENCE, None)
    return Reference(MEAN, np.mean(np.asarray(y_train, dtype=np.float64), axis=0))


def run_context(problem: Descriptor, task: Task, train: Fixture[Any, Any], validation: Fixture[Any, Any],
                test: Fixture[Any, Any]) -> dict[str, Any]:
    """What ``evaluate_run`` needs beyond the method's outputs: the training targets, the
    reference baseline fitted on them, the problem's inputs it predicts from, the unit."""
    y_train = np.asarray(train.y)
    return {"y_train": y_train, "reference": fit_reference(task, train.x, y_train, time_ordered(problem, task)),
            "inputs": {"validation": validation.x, "test": test.x}, "units": problem.spec.unit}
