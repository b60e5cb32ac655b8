"""What each clock of a run covers, measured the same way everywhere.

Every clock is ``time.perf_counter`` read after ``block_until_ready`` (or after the result
is copied back to NumPy, which waits for it), so it never stops before the device does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import jax

from ..clock import FIRST_EXECUTION as FIRST_EXECUTION
from ..clock import STEADY_STATE as STEADY_STATE
from ..clock import STEADY_STATE_BUDGET_S as STEADY_STATE_BUDGET_S
from ..clock import steady_state

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
    the measurement (``saibench_core.clock.steady_state``, whose budget is explained there).

    Returns:
        ``(outputs, seconds, first_execution_seconds, clock)`` where ``clock`` is
        ``"steady state"`` or ``"first execution"``.
    """
    return steady_state(lambda: jax.block_until_ready(program(*args)), STEADY_STATE_BUDGET_S)  # type: ignore[no-untyped-call]
