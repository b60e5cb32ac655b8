"""``Fitted``: a method fitted without gradients (closed form, neighbours, a solver).

A model whose return annotation is ``Annotated[Fitted, ...]`` takes no trainer: the engine
hands its ``fit`` the run's training fixture (converted to the model's input type, after
the validation carve) and predicts the validation and test fixtures with what ``fit``
returns, through the same metrics as a trained network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._callables import takes_keyword
from ._concepts import Train
from ._errors import InvalidSignature

Predictor = Callable[[NDArray[np.float32]], ArrayLike]
"""What ``fit`` returns: inputs ``(N, ...)`` (float32, the model's input type) to outputs in
the model's output form: per-class scores ``(N, k)`` for ``Label("k")``, values ``(N,)``
(or ``(N, 1)``) for ``Scalar()``."""


def _check_fit(_: object, __: object, fit: Callable[..., Predictor]) -> None:
    if not callable(fit):
        raise InvalidSignature(repr(fit), "Fitted's first argument is a function fit(train) -> predictor, "
                               "e.g. return Fitted(fit, how='closed-form least squares')")


def _check_how(_: object, __: object, how: str) -> None:
    if not isinstance(how, str) or not how.strip() or not how.isprintable():
        raise InvalidSignature(repr(how), "Fitted(how=...) says in one printable line how the method is fitted, "
                               "e.g. how='closed-form ridge regression (normal equations)'")


@attrs.frozen
class Fitted:
    """What a model fitted without gradients returns: its ``fit`` and how it fits.

    The model's factory receives its input and hyperparameters as any model's does, and
    returns ``Fitted(fit, how=...)``; ``fit(train)`` gets the training fixture as NumPy
    arrays (``train.x`` float32 in the model's input type, batch axis first; ``train.y``
    class indices for ``Label``, values for ``Scalar``) and returns a predictor. The run
    records ``how`` and shows no epochs or learning rate; its training time is the time
    ``fit`` takes (timed as a training program is: see ``Evaluation.train_seconds``).
    A ``fit`` that computes with JAX returns concrete results (``block_until_ready``), so
    that the clock does not stop before the device does.

    A randomised method (a random subset, random features, restarts) declares a keyword
    ``seed``: ``def fit(train, *, seed: int)`` is called with the run's seed, so that
    ``saibench run --repeat N --vary seed`` varies it and a stored run can be repeated
    exactly; a ``fit`` without it is deterministic and called as ``fit(train)``.

    Args:
        fit: ``fit(train: Train[X, Y]) -> predictor`` (or ``fit(train, *, seed)``); the
            predictor maps inputs ``(N, ...)`` to outputs in the model's output form
            (per-class scores ``(N, k)`` for ``Label("k")``, values ``(N,)`` for ``Scalar()``).
        how: one line saying how it is fitted, shown with its runs.

    Example:
        >>> import numpy as np
        >>> def fit(train):
        ...     mean = float(np.mean(train.y))
        ...     return lambda x: np.full(len(x), mean)
        >>> Fitted(fit, how="the training mean").how
        'the training mean'
    """

    fit: Callable[..., Predictor] = attrs.field(validator=_check_fit)
    how: str = attrs.field(validator=_check_how)

    @property
    def seeded(self) -> bool:
        """Whether ``fit`` takes the run's seed (a keyword argument ``seed``)."""
        return takes_keyword(self.fit, "seed")

    def fit_on(self, train: Train[Any, Any], seed: int) -> Predictor:
        """``fit(train, seed=seed)`` when it is seeded, else ``fit(train)``."""
        return self.fit(train, seed=seed) if self.seeded else self.fit(train)
