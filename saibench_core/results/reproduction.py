"""Reproducibility tiers: how closely a run computed again matches the stored one.

A stored run's metrics are compared with those of the same run executed again (same
modules, hyperparameters, seed, split and data). The tier is the strongest that holds for
every metric of the result (the machine's own measurements aside):

- ``bitwise``: every value is the same float (NaN matching NaN, an infinity itself);
- ``numerical``: every value within ``ATOL + RTOL * |stored|`` of the stored one
  (NumPy's ``isclose`` defaults);
- ``statistical``: every value inside the 95 % prediction interval of the stored
  repetitions of its configuration (other seeds and splits, and this run):
  ``mean ± t(0.975, n − 1) · s · sqrt(1 + 1/n)`` over ``n ≥ 2`` values, the range a new
  repetition falls in 95 % of the time when values are normal;
- ``none``: some value is outside all three, or the run failed.

Measurements of the machine (times, rates, memory, speed-ups: ``MEASURED`` units) are shown
with their ratio to the stored value but decide no tier: another moment on the same
machine measures them differently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

RTOL, ATOL = 1e-5, 1e-8
LEVEL = 0.95
TIERS = ("bitwise", "numerical", "statistical", "none")
TIER_TEXT = {
    "bitwise": "bitwise identical",
    "numerical": f"numerically equal (within {ATOL:g} + {RTOL:g} x |stored|)",
    "statistical": f"statistically equal (inside the {LEVEL:.0%} prediction interval of the stored repetitions)",
    "none": "not reproduced",
}
_TIME_UNITS = {"ns", "us", "µs", "ms", "s", "min", "h"}
_MEMORY_UNITS = {"B", "KiB", "MiB", "GiB", "kB", "MB", "GB"}


def measured(unit: str) -> bool:
    """Whether a metric of this unit measures the machine (a time, a memory size, a rate
    per second, a speed-up ``x ...``) rather than the result."""
    unit = unit.strip()
    return unit in _TIME_UNITS or unit in _MEMORY_UNITS or unit.endswith("/s") or unit.startswith(("x ", "×"))


@attrs.frozen
class Comparison:
    """One metric, stored and computed again; ``interval`` is the prediction interval of
    its stored repetitions (``None``: fewer than two)."""

    metric: str
    stored: float
    now: float
    measurement: bool
    interval: tuple[float, float] | None

    @property
    def tier(self) -> str:
        """The strongest tier this metric holds (see the module docstring)."""
        if _same(self.stored, self.now):
            return "bitwise"
        if math.isfinite(self.stored) and math.isfinite(self.now) and abs(self.now - self.stored) <= ATOL + RTOL * abs(self.stored):
            return "numerical"
        if self.interval is not None and self.interval[0] <= self.now <= self.interval[1]:
            return "statistical"
        return "none"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b and math.copysign(1, a) == math.copysign(1, b)


def prediction_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The two-sided normal prediction interval of one more draw from ``values``'
    distribution; ``None`` for fewer than two finite values."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n < 2:
        return None
    from scipy import stats

    mean = sum(finite) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd * math.sqrt(1 + 1 / n)
    return mean - half, mean + half


def compare(stored: Mapping[str, float], now: Mapping[str, float], repetitions: Sequence[Mapping[str, float]],
            units: Mapping[str, str]) -> list[Comparison]:
    """Each metric of ``stored`` against ``now`` (NaN where the new run lacks it), with the
    prediction interval of ``repetitions`` (the stored metrics of every repetition of the
    configuration, this run's included)."""
    return [Comparison(name, float(value), float(now.get(name, math.nan)), measured(units.get(name, "")),
                       prediction_interval([float(r[name]) for r in repetitions if name in r]))
            for name, value in stored.items()]


def tier(comparisons: Sequence[Comparison], ok: bool = True) -> str:
    """The tier every non-measurement comparison holds: the weakest of theirs (``none``
    when the run failed, or measured nothing but the machine)."""
    held = [c.tier for c in comparisons if not c.measurement]
    return max(held, key=TIERS.index) if ok and held else "none"
