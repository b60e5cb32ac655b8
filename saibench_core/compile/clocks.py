"""What each clock of a run covers, measured the same way everywhere.

Every clock is ``time.perf_counter`` read after ``block_until_ready`` (or after the result
is copied back to NumPy, which waits for it), so it never stops before the device does.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import jax

# Below this first-execution time the training program is run a second time and that run
# is timed: a first execution pays fixed costs (buffer allocation, thread-pool start, page
# faults), measured at 1.3-1.6x the steady state on the digits MLP, and a second run costs
# at most this much more per run. Above it those fixed costs are a small share of the time.
STEADY_STATE_BUDGET_S = 5.0
STEADY_STATE = "steady state"
FIRST_EXECUTION = "first execution"

_CACHE_EVENTS = "/jax/compilation_cache/"


@contextlib.contextmanager
def compile_cache_state() -> Iterator[list[str]]:
    """Collect JAX's persistent-compilation-cache events while compiling; read the state
    with ``cache_state(events)`` after the block."""
    seen: list[str] = []

    def listener(event: str, **_: Any) -> None:
        if event.startswith(_CACHE_EVENTS):
            seen.append(event[len(_CACHE_EVENTS):])

    jax.monitoring.register_event_listener(listener)
    try:
        yield seen
    finally:
        jax.monitoring.unregister_event_listener(listener)


def cache_state(events: list[str]) -> str:
    """``"hit"`` (the executable was read from the persistent cache), ``"miss"`` (the cache
    was asked and compiled afresh) or ``"off"`` (the cache was not used)."""
    if "cache_hits" in events:
        return "hit"
    return "miss" if "compile_requests_use_cache" in events else "off"


def timed_execution(program: Callable[..., Any], *args: Any) -> tuple[Any, float, float, str]:
    """Run a compiled ``program(*args)`` and time it in steady state where affordable.

    The first execution is timed; when it took under ``STEADY_STATE_BUDGET_S`` the program
    is run again on the same inputs (a pure program: same outputs) and that second run is
    the measurement.

    Returns:
        ``(outputs, seconds, first_execution_seconds, clock)`` where ``clock`` is
        ``"steady state"`` or ``"first execution"``.
    """
    start = time.perf_counter()
    out = jax.block_until_ready(program(*args))  # type: ignore[no-untyped-call]
    first = time.perf_counter() - start
    if first >= STEADY_STATE_BUDGET_S:
        return out, first, first, FIRST_EXECUTION
    del out  # free the first outputs before the second run allocates its own
    start = time.perf_counter()
    out = jax.block_until_ready(program(*args))  # type: ignore[no-untyped-call]
    return out, time.perf_counter() - start, first, STEADY_STATE
