"""Uncertainty over repetitions: bootstrap intervals of medians, and tie groups.

- **Intervals.** A value aggregated over a configuration's ok repetitions (seeds, and
  splits where varied) is their median; its interval is the 95 % percentile bootstrap of
  that median (Efron & Tibshirani 1993, ch. 13): ``RESAMPLES`` resamples of the
  repetitions with replacement, seeded, so a table is the same every time it is printed.
  One repetition has no interval (``NaN``).
- **Tie groups.** Two configurations of a problem are told apart only when a paired test
  says so: a two-sided paired t-test of their per-repetition scores over the repetitions
  they share (same seed and split: the same training data, test data and initialisation
  stream), with Holm's step-down correction (Holm 1979) over every tested pair of the
  problem, at ``ALPHA``. A configuration's place is one more than the number of
  configurations that beat it significantly, never better than the place of one above it
  (so places follow the order by score); configurations that no test separates share a
  place. A pair with fewer than ``MIN_PAIRED`` shared repetitions cannot be tested, and is
  ordered by score, as a leaderboard of single runs is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

LEVEL = 0.95
ALPHA = 0.05
RESAMPLES = 9_999
MIN_PAIRED = 2
INTERVAL = f"{LEVEL:.0%} percentile bootstrap of the median over ok repetitions ({RESAMPLES:,} resamples, seeded)"
TEST = (f"two-sided paired t-test of per-repetition scores over shared (seed, split), Holm-corrected within each "
        f"problem, alpha = {ALPHA:g}; pairs sharing fewer than {MIN_PAIRED} repetitions ordered by score, untested")
Paired = Mapping[tuple[int, int], float]  # a configuration's score per (seed, split)


def interval(values: Sequence[float]) -> tuple[float, float]:
    """The ``LEVEL`` percentile bootstrap interval of the median of the finite ``values``;
    ``(NaN, NaN)`` for fewer than two of them. Memoized (a few ms each): an entry's
    intervals are asked for again by every copy of it (``attrs.evolve``) and every reader."""
    return _interval(tuple(v for v in values if math.isfinite(v)))


@functools.lru_cache(maxsize=4096)
def _interval(finite: tuple[float, ...]) -> tuple[float, float]:
    if len(finite) < 2:
        return math.nan, math.nan
    if all(v == finite[0] for v in finite):
        return finite[0], finite[0]
    from scipy import stats  # lazy: only rankings over repetitions need it

    result = stats.bootstrap((np.asarray(finite),), np.median, n_resamples=RESAMPLES, confidence_level=LEVEL,
                             method="percentile", rng=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_test(a: Paired, b: Paired) -> tuple[float, float]:
    """``(p, mean difference a - b)`` of the two-sided paired t-test over the repetitions
    ``a`` and ``b`` share (finite in both); ``(NaN, NaN)`` for fewer than ``MIN_PAIRED``.
    Differences that are all equal give p = 0 (a constant, nonzero difference) or 1 (none)."""
    shared = sorted(k for k in a.keys() & b.keys() if math.isfinite(a[k]) and math.isfinite(b[k]))
    if len(shared) < MIN_PAIRED:
        return math.nan, math.nan
    d = np.asarray([a[k] - b[k] for k in shared])
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd <= 1e-12 * abs(mean):  # no spread (up to rounding): the t statistic is infinite, or 0/0
        return (0.0 if mean != 0.0 else 1.0), mean
    from scipy import stats

    t = mean / (sd / math.sqrt(len(d)))
    return float(2.0 * stats.t.sf(abs(t), len(d) - 1)), mean


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (each at most 1), in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def tie_places(scores: Sequence[Paired]) -> list[int]:
    """The places of configurations given best first (by their aggregated score), each as
    its per-repetition scores: see the module docstring."""
    n = len(scores)
    tests = {(i, j): paired_test(scores[i], scores[j]) for i in range(n) for j in range(i + 1, n)}
    tested = [pair for pair, (p, _) in tests.items() if not math.isnan(p)]
    adjusted = dict(zip(tested, holm([tests[pair][0] for pair in tested]), strict=True))

    def beats(i: int, j: int) -> bool:
        """Whether ``i`` (above ``j``) is told apart from it: significantly better, or untestable."""
        if (i, j) not in adjusted:
            return True
        return adjusted[i, j] < ALPHA and tests[i, j][1] > 0

    places: list[int] = []
    for j in range(n):
        places.append(max(places[-1] if places else 1, 1 + sum(beats(i, j) for i in range(j))))
    return places
