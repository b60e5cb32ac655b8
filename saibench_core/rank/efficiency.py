"""Sample efficiency: how a configuration's score grows with the labelled data it trains on.

A problem names its label budget, the hyperparameter giving the fraction of its labelled
training data a run trains on (``@problem(label_budget="labels")``). Runs that differ only
in that value are points of one curve, per ranking: the ranking's score of the median
metrics at each budget (a leaderboard entry's ``score``). Its area is the trapezoid rule
over ``log2(budget)`` divided by that axis's width - the mean score over the budgets on a
log scale, so halving the labels weighs the same at every size - or the score itself for
a single budget. Curves are ranked by area, best first; the problem's reference baseline
(trained on the same labels) has its curve beside them, and a fine-tuned configuration's
curve is shown next to the same model's from scratch (``model ← problem×model``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..discovery import Catalog
from .leaderboard import Entry, Leaderboard


@attrs.frozen
class Curve:
    """One configuration's sample-efficiency curve under one ranking.

    Attributes:
        ranking, problem: what it is a curve of; budget: the problem's budget
            hyperparameter; label: the model column (``reference: ...`` for the baseline).
        trainer: the trainer's name (empty for the reference).
        points: ``(budget, score)`` by increasing budget; area: see the module docstring.
        metrics: the ranking's first metric (median) at each point.
    """

    ranking: str
    problem: str
    budget: str
    label: str
    trainer: str
    points: tuple[tuple[float, float], ...]
    metrics: tuple[float, ...]
    area: float
    reference: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite floats as they are: encode with ``json_safe``)."""
        return {"ranking": self.ranking, "problem": self.problem, "budget": self.budget, "model": self.label,
                "trainer": self.trainer, "reference": self.reference, "budgets": [b for b, _ in self.points],
                "scores": [s for _, s in self.points], "metric": list(self.metrics), "area": self.area}


def area(points: Iterable[tuple[float, float]]) -> float:
    """The mean score over ``log2(budget)`` by the trapezoid rule (a single point: its score;
    NaN where a score is not finite).

    >>> area([(0.25, 0.5), (0.5, 0.7), (1.0, 0.8)])
    0.675
    """
    chosen = sorted(points)
    if not chosen or not all(math.isfinite(s) for _, s in chosen):
        return math.nan
    if len(chosen) == 1:
        return chosen[0][1]
    x = [math.log2(b) for b, _ in chosen]
    total = sum((x[i + 1] - x[i]) * (chosen[i + 1][1] + chosen[i][1]) / 2 for i in range(len(chosen) - 1))
    return total / (x[-1] - x[0])


def budgets(catalog: Catalog) -> dict[str, str]:
    """Each problem's label-budget hyperparameter, for those that name one."""
    return {p.name: p.spec.label_budget for p in catalog.of("problem") if p.spec.label_budget}


def _group(entry: Entry, budget: str) -> str:
    spec = entry.run.to_json()
    for name in ("seed", "split", "dataset_checksum"):
        spec.pop(name, None)
    spec["hyperparameters"]["problem"] = {k: v for k, v in spec["hyperparameters"].get("problem", {}).items() if k != budget}
    if entry.reference:  # the reference depends on the problem variant only
        spec = {"problem": spec["problem"], "hyperparameters": {"problem": spec["hyperparameters"]["problem"]}}
    return json.dumps([entry.reference, spec], sort_keys=True, default=str)


def curves(board: Leaderboard, budget_of: Mapping[str, str]) -> list[Curve]:
    """The sample-efficiency curves of one leaderboard's problems that have a label budget,
    best area first (the reference's last); configurations run at a single budget are left
    out (a point is no curve), as are partial-order boards (no score to draw)."""
    if board.ranking.spec.order == "partial":
        return []
    groups: dict[str, list[Entry]] = {}
    for entry in (*board.entries, *board.references):
        budget = budget_of.get(entry.run.problem)
        value = entry.run.hyper.get("problem", {}).get(budget or "")
        if budget and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            groups.setdefault(_group(entry, budget), []).append(entry)
    first = board.ranking.spec.metrics[0]
    out = []
    for entries in groups.values():
        if len(entries) < 2:
            continue
        entries.sort(key=lambda e: float(e.run.hyper["problem"][budget_of[e.run.problem]]))
        run = entries[0].run
        budget = budget_of[run.problem]
        points = tuple((float(e.run.hyper["problem"][budget]), e.score) for e in entries)
        out.append(Curve(board.ranking.name, run.problem, budget, entries[0].label, "" if entries[0].reference else run.trainer,
                         points, tuple(e.metrics.get(first, math.nan) for e in entries), area(points),
                         bool(entries[0].reference)))
    return sorted(out, key=lambda c: (c.problem, c.reference, -c.area if math.isfinite(c.area) else math.inf))
