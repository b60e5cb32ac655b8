"""Metric values across repetitions, and what a leaderboard may rank.

Two non-finite values mean different things and stay apart: NaN is *not measured* (device
memory on a CPU) and is left out of medians and ranges; ±inf is *never reached* (time to
95 % accuracy) and is a value like any other, so a median can be infinite. A score ranks only
when it is finite.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping

NAN = float("nan")


def measured(values: Iterable[float]) -> list[float]:
    """``values`` without the NaNs (not measured)."""
    return [float(v) for v in values if not math.isnan(v)]


def median(values: Iterable[float]) -> float:
    """The median of the measured values (NaN when none was measured).

    >>> median([3.0, float("nan"), 1.0, float("inf")])
    3.0
    """
    kept = measured(values)
    return statistics.median(kept) if kept else NAN


def span(values: Iterable[float]) -> tuple[float, float]:
    """``(min, max)`` of the measured values (``(NaN, NaN)`` when none was measured)."""
    kept = measured(values)
    return (min(kept), max(kept)) if kept else (NAN, NAN)


def score(fn: Callable[[Mapping[str, float]], float], names: Iterable[str], values: Mapping[str, float]) -> float:
    """A ranking's score of ``values``; NaN when one of its metrics is missing or not measured
    (a ranking function is never asked to order a NaN)."""
    picked = {n: values.get(n, NAN) for n in names}
    if any(math.isnan(v) for v in picked.values()):
        return NAN
    return float(fn(picked))


def ranks(value: float) -> bool:
    """Whether a score takes a place on a leaderboard: only finite scores do."""
    return math.isfinite(value)
