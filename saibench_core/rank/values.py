"""Metric values across repetitions, and what a leaderboard may rank.

Two non-finite values mean different things and stay apart: NaN is *not measured* (device
memory on a CPU) and is left out of medians and ranges; ±inf is *never reached* (time to
95 % accuracy) and is a value like any other, so a median can be infinite. A score ranks only
when it is finite.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Callable, Iterable, Mapping

from ..discovery.contained import PluginFailure, guard
from ..errors import SaibenchError

NAN = float("nan")


class RankingFailed(SaibenchError, ValueError):
    """A ranking function raised, or returned something else than a number (or NaN)."""


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
    (a ranking function is never asked to order a NaN).

    Raises:
        RankingFailed: the ranking function raised (anything), or returned something that is
            not a real number (``None``, a string - even ``"0.5"`` -, a bool), or NaN: it was
            given only measured values, so it has no "not measured" to report.
    """
    picked = {n: values.get(n, NAN) for n in names}
    if any(math.isnan(v) for v in picked.values()):
        return NAN
    try:
        with guard("the ranking function"):
            result = fn(picked)
    except PluginFailure as exc:
        raise RankingFailed(exc.detail) from None
    except SaibenchError as exc:
        raise RankingFailed(f"{type(exc).__name__}: {exc}") from None
    if isinstance(result, bool) or not isinstance(result, numbers.Real):
        raise RankingFailed(f"returned {result!r} ({type(result).__name__}); a ranking returns a float")
    value = float(result)
    if math.isnan(value):
        raise RankingFailed("returned NaN from measured metrics; a ranking returns a number (inf: never reached)")
    return value


def median_score(fn: Callable[[Mapping[str, float]], float], names: Iterable[str],
                 repetitions: Iterable[Mapping[str, float]]) -> float:
    """``score`` of the median of each of ``names`` over ``repetitions`` (metric dicts; a
    metric one of them lacks counts as not measured there).

    Raises:
        RankingFailed: as ``score``.
    """
    names, repetitions = tuple(names), list(repetitions)
    return score(fn, names, {m: median(r.get(m, NAN) for r in repetitions) for m in names})


def ranks(value: float) -> bool:
    """Whether a score takes a place on a leaderboard: only finite scores do."""
    return math.isfinite(value)
