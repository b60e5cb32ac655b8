"""Fitting a ``Fitted`` method on the training fixture, on the training clock.

The clock is the one a compiled training program gets (``compile.clocks``): ``fit`` is
called and timed; when that first call took under ``STEADY_STATE_BUDGET_S`` it is called
again on the same fixture and the second call is the measurement (a first call pays fixed
costs: BLAS thread start, page faults, a JIT the method runs inside). Nothing is compiled
by the engine, so a fitted run's compile time is 0; what a method compiles inside ``fit``
is in its first call (``first_execution_seconds``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from sail_types import Fitted, Train

from ..clock import FIRST_EXECUTION as FIRST_EXECUTION
from ..clock import STEADY_STATE as STEADY_STATE
from ..clock import STEADY_STATE_BUDGET_S as STEADY_STATE_BUDGET_S
from ..clock import steady_state
from ..errors import SaibenchError


class FitError(SaibenchError, TypeError):
    """A ``Fitted`` model's factory or ``fit`` returned something the engine cannot use;
    the message names the model and shows what to return.

    Attributes:
        model: the model's name.
    """

    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"model {model}: {message}")
        self.model = model


@attrs.frozen
class FitOutcome:
    """A fitted method: its predictor, how it was fitted, and the clocks of ``fit``.

    Attributes:
        predictor: what ``fit`` returned (of its measured call).
        how: ``Fitted.how``.
        train_seconds: the measured call of ``fit``; first_execution_seconds: its first call.
        train_clock: ``"steady state"`` (a second call, timed) or ``"first execution"``.
    """

    predictor: Callable[[Any], Any]
    how: str
    train_seconds: float
    first_execution_seconds: float
    train_clock: str


def fitted_of(model: str, made: object) -> Fitted:
    """What a ``Fitted``-annotated factory returned, checked.

    Raises:
        FitError: it returned something else (a ``Layer``, a bare function).
    """
    if not isinstance(made, Fitted):
        raise FitError(model, f"is annotated '-> Annotated[Fitted, ...]' but its factory returned {type(made).__name__}; "
                       "return Fitted(fit, how='...') where fit(train) returns a predictor, or annotate it '-> Annotated[Layer, ...]'")
    return made


def fit_timed(model: str, fitted: Fitted, train: Train[Any, Any], seed: int) -> FitOutcome:
    """Fit ``fitted`` on ``train`` (with the run's ``seed`` when ``fit`` takes one), timed in
    steady state where affordable (see the module docstring): both calls get the same seed.

    Raises:
        FitError: ``fit`` returned no predictor.
    """

    def check(predictor: object) -> None:  # off the clock, after each call
        if not callable(predictor):
            raise FitError(model, f"fit(train) returned {type(predictor).__name__}, not a predictor; return a function "
                           "x -> outputs, e.g. 'return lambda x: x @ w' (per-class scores for Label, values for Scalar)")

    predictor, seconds, first, clock = steady_state(lambda: fitted.fit_on(train, seed), STEADY_STATE_BUDGET_S, check)
    return FitOutcome(predictor, fitted.how, seconds, first, clock)
