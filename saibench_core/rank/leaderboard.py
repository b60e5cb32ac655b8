"""Leaderboards: each ranking module's total order over the stored runs it applies to."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from typing import Any

import attrs

from ..discovery import Catalog, Descriptor
from ..planner import Run
from ..results import Record


@attrs.frozen
class Entry:
    """One row of a leaderboard: a configuration, aggregated over the seeds it ran with.

    ``metrics`` and ``score`` are medians over seeds; ``spread`` and ``score_range`` the
    (min, max) across them, so one lucky seed cannot pass for a better method.
    """

    records: tuple[Record, ...]
    scores: tuple[float, ...]

    @property
    def run(self) -> Run:
        """The configuration (the first seed's run)."""
        return self.records[0].run

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.run.seed for r in self.records)

    @property
    def score(self) -> float:
        return statistics.median(self.scores)

    @property
    def score_range(self) -> tuple[float, float]:
        return min(self.scores), max(self.scores)

    @property
    def metrics(self) -> dict[str, float]:
        names = set.intersection(*(set(r.metrics) for r in self.records))
        return {m: statistics.median(r.metrics[m] for r in self.records) for m in sorted(names)}

    @property
    def spread(self) -> dict[str, tuple[float, float]]:
        return {m: (min(r.metrics[m] for r in self.records), max(r.metrics[m] for r in self.records)) for m in self.metrics}

    def to_json(self) -> dict[str, Any]:
        """The run's roles, hyperparameters, seeds, median metrics and score, and spreads."""
        run = self.run.to_json()
        keep = ("problem", "model", "trainer", "software", "hardware", "chain", "fills", "hyperparameters")
        return {**{k: run[k] for k in keep}, "seeds": list(self.seeds), "metrics": self.metrics,
                "spread": {m: list(v) for m, v in self.spread.items()}, "score": self.score,
                "score_range": list(self.score_range)}


@attrs.frozen
class Leaderboard:
    """A ranking's ordered entries, best first; problems within it are ranked apart."""

    ranking: Descriptor
    entries: tuple[Entry, ...]


def configuration(run: Run) -> str:
    """What identifies a configuration across repetitions: the run without its seed."""
    spec = run.to_json()
    spec.pop("seed")
    return json.dumps(spec, sort_keys=True, default=str)


def leaderboard(ranking: Descriptor, records: Iterable[Record]) -> Leaderboard:
    """Score every successful record that has all the ranking's metrics, aggregate each
    configuration over its seeds (median), best first, grouped by problem (a score means
    nothing across problems)."""
    needed = set(ranking.spec.metrics)
    groups: dict[str, list[tuple[Record, float]]] = {}
    for rec in records:
        if rec.status == "ok" and needed <= rec.metrics.keys():
            groups.setdefault(configuration(rec.run), []).append((rec, float(ranking.fn(rec.metrics))))
    entries = [Entry(tuple(r for r, _ in sorted(g, key=lambda p: p[0].run.seed)),
                     tuple(s for _, s in sorted(g, key=lambda p: p[0].run.seed))) for g in groups.values()]
    entries.sort(key=lambda e: (e.run.problem, -e.score))
    return Leaderboard(ranking, tuple(entries))


def leaderboards(catalog: Catalog, records: Iterable[Record]) -> list[Leaderboard]:
    """One leaderboard per installed ranking module."""
    stored = list(records)
    return [leaderboard(r, stored) for r in catalog.of("ranking")]
