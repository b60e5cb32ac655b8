"""A combined score over metrics with user weights, normalised to fixed anchors (as the
Matbench Discovery leaderboard combines its metrics; Riebesell et al. 2025).

Each metric ``m`` is mapped to ``(value - worst) / (best - worst)``: 0 at its *worst* anchor,
1 at its *best*, whichever way the metric goes. The anchors are fixed, never read off the
methods being ranked, so adding a method moves no other method's score:

- **best**: the metric's ideal value - 0 for a metric to minimise (an error, a time, a
  cost), 1 for a dimensionless metric to maximise (a fraction or a skill score: accuracy,
  F1, IoU, R², NSE). A maximised metric with a unit (dB, samples/s) has no ideal: it
  cannot be anchored unless the user gives its anchors.
- **worst**: the problem's reference baseline's value (majority class, training mean,
  persistence: its median over splits as stored with the runs). Where none is stored (the
  reference measures no time), the metric cannot be anchored on that problem unless the
  user gives its anchors.

The combined score is ``sum(w_m * normalised_m) / sum(w_m)``: 0 is the reference's level, 1
the ideal everywhere. It is a total-order leaderboard like any other (named ``NAME``):
medians, intervals and tie groups over the per-repetition scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

from sail_types import ModuleSpec

from ..discovery import Catalog, Descriptor
from ..errors import InvalidInput
from ..errors import Part as P
from ..results import Record
from . import values
from .leaderboard import Entry, Leaderboard, leaderboard, place
from .repetitions import problem_variant, references
from .table import number

NAME = "combined-score"  # its leaderboard's name, and its key in rank --json (as the extras' keys, with a "-")
Anchors = Mapping[str, tuple[float, float]]  # metric -> (worst, best)


def ideal(metric: Descriptor) -> float | None:
    """The best anchor of an installed metric: 0 to minimise, 1 for a dimensionless metric to
    maximise, ``None`` for a maximised one with a unit (no ideal)."""
    if metric.spec.goal == "min":
        return 0.0
    return None if metric.spec.unit else 1.0


def normalised(value: float, worst: float, best: float) -> float:
    """``value`` on the scale where ``worst`` is 0 and ``best`` is 1.

    >>> normalised(0.55, worst=0.1, best=1.0)
    0.5
    """
    return (value - worst) / (best - worst)


def combined(metrics: Mapping[str, float], weights: Mapping[str, float], anchors: Anchors) -> float:
    """The weighted mean of ``metrics`` normalised to ``anchors`` (NaN if one is missing or NaN).

    >>> combined({"accuracy": 0.55, "mae": 1.0}, {"accuracy": 3, "mae": 1}, {"accuracy": (0.1, 1.0), "mae": (2.0, 0.0)})
    0.5
    """
    picked = [metrics.get(m, math.nan) for m in weights]
    if any(math.isnan(v) for v in picked):
        return math.nan
    total = sum(w * normalised(v, *anchors[m]) for (m, w), v in zip(weights.items(), picked, strict=True))
    return total / sum(weights.values())


def best_anchors(catalog: Catalog, weights: Mapping[str, float], given: Anchors) -> dict[str, float]:
    """The ideal (best anchor) of each weighted metric whose anchors the user did not give,
    once the weights and anchors make sense.

    Raises:
        InvalidInput: no weight, an unknown metric, a weight that is not a finite number > 0,
            anchors that are not two different finite numbers, or a metric with no ideal
            and no anchors given.
    """
    installed = {m.name: m for m in catalog.of("metric")}
    if not weights:
        raise InvalidInput("combine", "", "give ", P.NAME, " a weight per metric, e.g. accuracy=1,macro_f1=0.5")
    for name in [*weights, *given]:
        if name not in installed:
            raise InvalidInput("combine", name, P.NAME, f": unknown metric {name!r}; installed metrics: "
                               f"{', '.join(sorted(installed))}")
    for name, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not values.ranks(weight) or weight <= 0:
            raise InvalidInput("combine", f"{name}={weight}", P.WHERE, " is not a weight: give a finite number > 0")
    for name, pair in given.items():
        if len(pair) != 2 or not all(values.ranks(v) for v in pair) or pair[0] == pair[1]:
            raise InvalidInput("anchors", f"{name}={pair}", P.WHERE, " is not two different finite numbers WORST:BEST")
    best = {m: ideal(installed[m]) for m in weights if m not in given}
    for name, value in best.items():
        if value is None:
            raise InvalidInput("combine", name, P.NAME, f": {name} cannot be anchored: a metric to maximise with a unit "
                               f"({installed[name].spec.unit}) has no ideal value; give its anchors: --anchors {name}=WORST:BEST "
                               f"(in Python anchors={{{name!r}: (WORST, BEST)}})")
    return {m: v for m, v in best.items() if v is not None}


def anchors_on(weights: Mapping[str, float], best: Mapping[str, float], given: Anchors,
               baseline: Iterable[Record]) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """One problem variant's anchors from its stored reference baseline (``baseline``: its
    runs, one per split), and the metrics that cannot be anchored there."""
    stored = [r.details["reference_metrics"] for r in baseline]
    found: dict[str, tuple[float, float]] = {}
    missing = []
    for m in weights:
        worst = values.median(v.get(m, values.NAN) for v in stored)
        if m in given:
            found[m] = given[m]
        elif values.ranks(worst) and worst != best[m]:
            found[m] = (worst, best[m])
        else:
            missing.append(m)
    return found, missing


def _descriptor(weights: Mapping[str, float], anchors: Anchors | None = None) -> Descriptor:
    """The combined score as a total-order ranking under one variant's ``anchors`` (without:
    the board's own, never asked to score)."""
    shown = ", ".join(f"{m} ×{w:g}" for m, w in weights.items())
    doc = (f"Combined score: the weighted mean of {shown}, each normalised to fixed anchors (0: the problem's "
           "reference baseline, 1: the metric's ideal, unless given); adding a method moves no other's score.")
    fixed = dict(anchors or {})

    def score(metrics: Mapping[str, float]) -> float:
        return combined(metrics, weights, fixed)

    return Descriptor(NAME, "ranking", "saibench", "", ModuleSpec("ranking", NAME, metrics=tuple(weights)), doc=doc, fn=score)


def _label(variant: str) -> str:
    problem, hyper = json.loads(variant)
    return " ".join([problem, *(f"{k}={v}" for k, v in sorted(hyper.items()))])


def combined_board(catalog: Catalog, records: Iterable[Record], weights: Mapping[str, float], *,
                   anchors: Anchors | None = None, tuned: bool = False) -> Leaderboard:
    """The leaderboard of the combined score over ``records``, problem variant by variant
    (a problem with its own hyperparameters: what a reference baseline depends on).

    Args:
        catalog: the installed modules (the metrics' goals and units give the ideals).
        records: stored runs, as for ``leaderboard``.
        weights: a weight > 0 per metric.
        anchors: ``(worst, best)`` per metric, given instead of the reference and the ideal.
        tuned: as for ``leaderboard``.

    Returns:
        A board named ``NAME`` with its ``anchors`` by variant; its notes give them, or why
        a variant has none.

    Raises:
        InvalidInput: as ``best_anchors``.
    """
    given = dict(anchors or {})
    best = best_anchors(catalog, weights, given)
    stored = list(records)
    by_variant: dict[str, list[Record]] = {}
    for rec in stored:
        by_variant.setdefault(problem_variant(rec.run), []).append(rec)
    baselines = references(stored)
    entries: list[Entry] = []
    rows: list[Entry] = []
    notes: list[str] = []
    fixed_by: dict[str, dict[str, tuple[float, float]]] = {}
    for variant, group in sorted(by_variant.items()):
        fixed, missing = anchors_on(weights, best, given, baselines.get(variant, []))
        if missing:
            notes.append(f"{_label(variant)}: not combined: {', '.join(missing)} cannot be anchored (no reference "
                         "value stored, or it is the ideal); give them: --anchors METRIC=WORST:BEST")
            continue
        fixed_by[_label(variant)] = fixed
        notes.append(f"anchors on {_label(variant)}: " + ", ".join(f"{m} {number(w)} → {number(b)}" for m, (w, b) in fixed.items()))
        board = leaderboard(_descriptor(weights, fixed), group, tuned=tuned)
        entries += board.entries
        rows += board.references
        notes += [n for n in board.notes if n not in notes]
    return Leaderboard(_descriptor(weights), place(entries), tuned, tuple(notes), tuple(rows), anchors=fixed_by)
