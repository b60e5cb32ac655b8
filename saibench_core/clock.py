"""The steady-state clock shared by compiled training programs (``compile.clocks``) and
fitted methods (``fit.fitting``), with no JAX import.

Below ``STEADY_STATE_BUDGET_S`` of first-call time the call is made a second time and that
call is timed: a first call pays fixed costs (buffer allocation, thread-pool start, page
faults), measured at 1.3-1.6x the steady state on the digits MLP, and a second call costs
at most this much more per run. Above it those fixed costs are a small share of the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

STEADY_STATE_BUDGET_S = 5.0
STEADY_STATE = "steady state"
FIRST_EXECUTION = "first execution"


def _ignore(_: object) -> None:
    return None


def steady_state(call: Callable[[], T], budget_s: float | None = None,
                 check: Callable[[T], object] = _ignore) -> tuple[T, float, float, str]:
    """Time ``call()``; when it took under ``budget_s`` (``STEADY_STATE_BUDGET_S`` unless
    given), call it again and time that call.
    ``check`` is run on each call's result, off the clock (it may raise).

    Returns:
        ``(result, seconds, first_call_seconds, clock)``: the result and time of the
        measured call, and ``clock`` ``"steady state"`` or ``"first execution"``.
    """
    budget = STEADY_STATE_BUDGET_S if budget_s is None else budget_s
    start = time.perf_counter()
    out = call()
    first = time.perf_counter() - start
    check(out)
    if first >= budget:
        return out, first, first, FIRST_EXECUTION
    del out  # free the first result before the second call allocates its own
    start = time.perf_counter()
    out = call()
    seconds = time.perf_counter() - start
    check(out)
    return out, seconds, first, STEADY_STATE
