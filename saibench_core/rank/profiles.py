"""Performance profiles across problems (Dolan & Moré 2002), as MLCommons AlgoPerf scores
submissions (Dahl et al. 2023).

A ranking with a score ranks each problem apart; a profile says how a *method* - a model
(with its fills) and trainer, whatever its hyperparameters and platform - does across all
of them. On each problem the method's score is its best configuration's (a leaderboard
entry's median score; with ``--tuned``, the one chosen on validation), and its
**performance ratio** is its cost over the best method's cost on that problem, so 1 is the
best and 2 costs twice as much. Scores are higher-is-better; the cost they stand for is:

- scores all positive (accuracy, PSNR): the cost is ``1 / score``, so the ratio is
  ``best score / score`` (0.98 against 0.49 accuracy: ratio 2);
- scores all negative (a negated error, ``-MAE``): the cost is ``-score`` (the error), so the
  ratio is ``score / best score`` (MAE 0.2 against 0.1: ratio 2);
- scores of both signs, or a zero, have no ratio: that problem is left out, with a note.

A method with no finite score on a problem (it did not run there, or it failed) has ratio
``∞``. Its profile ``ρ(τ)`` is the fraction of problems with ratio ``≤ τ`` (``ρ(1)``: how often
it is the best; ``ρ(∞)``: how often it has a score at all), and its **area** AlgoPerf's
benchmark score: the integral of ``ρ`` over ``log τ`` from 1 to ``TAU_MAX``, divided by
``log TAU_MAX`` - 1 for a method best everywhere, 0 for one never within ``TAU_MAX`` of the
best. AlgoPerf integrates over ``τ`` itself; over ``log τ`` a ratio of 2 weighs the same
whether the others are at 1 or 4.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from .leaderboard import Entry, Leaderboard
from .values import ranks

TAUS = (1.0, 1.1, 1.5, 2.0, 4.0, math.inf)  # where tables read the profiles
TAU_MAX = 4.0  # the area's upper limit, AlgoPerf's r_max
INF = math.inf
K = TypeVar("K")


@attrs.frozen
class Profile:
    """One method's performance profile under one ranking.

    Attributes:
        ranking: the ranking's name; model: the model with its fills; trainer: its name.
        problems: the problems the profile is over (every problem of the ranking with a
            ratio), and ratios: the method's performance ratio on each (``∞``: no score).
    """

    ranking: str
    model: str
    trainer: str
    problems: tuple[str, ...]
    ratios: tuple[float, ...]

    def rho(self, tau: float) -> float:
        """The fraction of problems on which the ratio is finite and at most ``tau``
        (``tau=inf``: on which the method has a score)."""
        return sum(math.isfinite(r) and r <= tau for r in self.ratios) / len(self.ratios)

    @property
    def area(self) -> float:
        """The integral of ``rho`` over ``log τ`` on ``[1, TAU_MAX]``, over ``log TAU_MAX``."""
        return area(self.ratios)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``∞`` as it is: encode with ``json_safe``)."""
        return {"ranking": self.ranking, "model": self.model, "trainer": self.trainer, "problems": list(self.problems),
                "ratios": list(self.ratios), "taus": list(TAUS), "rho": [self.rho(t) for t in TAUS], "area": self.area,
                "tau_max": TAU_MAX}


def area(ratios: Sequence[float], tau_max: float = TAU_MAX) -> float:
    """AlgoPerf's score over ``log τ``: ``ρ`` is a step function, so its integral is the mean
    over problems of ``max(0, log tau_max - log r)``, divided by ``log tau_max``.

    >>> area([1.0, 2.0, math.inf])
    0.5
    """
    return sum(max(0.0, 1.0 - math.log(r) / math.log(tau_max)) for r in ratios) / len(ratios)


def ratios(scores: Mapping[K, float]) -> dict[K, float] | None:
    """Each method's performance ratio on one problem from its score (see the module
    docstring); ``None`` when the finite scores are not all of one sign (or none is)."""
    finite = {m: s for m, s in scores.items() if ranks(s)}
    if not finite or not (all(s > 0 for s in finite.values()) or all(s < 0 for s in finite.values())):
        return None
    best = max(finite.values())
    return {m: (best / s if s > 0 else s / best) if m in finite else INF for m, s in scores.items()}


def _method(entry: Entry) -> tuple[str, str]:
    return entry.label, entry.run.trainer


def _best_scores(entries: Iterable[Entry]) -> dict[str, dict[tuple[str, str], float]]:
    """Each problem's methods with the best score of their configurations there (NaN when
    none is finite); reference rows are not methods."""
    best: dict[str, dict[tuple[str, str], float]] = {}
    for e in entries:
        if e.reference:
            continue
        chosen = best.setdefault(e.run.problem, {})
        current = chosen.get(_method(e), math.nan)
        chosen[_method(e)] = e.score if ranks(e.score) and (math.isnan(current) or e.score > current) else current
    return best


def profiles(board: Leaderboard) -> tuple[list[Profile], list[str]]:
    """The performance profiles of ``board``'s methods, best area first, and notes on the
    problems left out. A partial-order board has none (no score to take ratios of)."""
    if board.ranking.spec.order == "partial":
        return [], [f"ranking {board.ranking.name}: a partial order has no score, so no performance profile"] * bool(board.entries)
    by_problem: dict[str, dict[tuple[str, str], float]] = {}
    notes: list[str] = []
    for problem, scores in sorted(_best_scores(board.entries).items()):
        found = ratios(scores)
        if found is None:
            notes.append(f"ranking {board.ranking.name}: {problem} left out of the profiles: no finite scores, or "
                         "scores of both signs or zero (no cost to take a ratio of)")
        else:
            by_problem[problem] = found
    methods = sorted({m for found in by_problem.values() for m in found})
    problems = tuple(by_problem)
    out = [Profile(board.ranking.name, model, trainer, problems,
                   tuple(by_problem[p].get((model, trainer), INF) for p in problems)) for model, trainer in methods]
    return sorted(out, key=lambda p: (-p.area, -p.rho(1.0), p.model, p.trainer)), notes
