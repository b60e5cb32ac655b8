"""Leaderboards: each ranking module's total order over the stored runs it applies to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from ..discovery import Catalog, Descriptor
from ..results import Record


@attrs.frozen
class Entry:
    """One row of a leaderboard."""

    record: Record
    score: float

    def to_json(self) -> dict[str, Any]:
        """The run's roles, hyperparameters, seed, metric values and score."""
        run = self.record.run.to_json()
        keep = ("problem", "model", "trainer", "software", "hardware", "chain", "fills", "hyperparameters", "seed")
        return {**{k: run[k] for k in keep}, "metrics": self.record.metrics, "score": self.score}


@attrs.frozen
class Leaderboard:
    """A ranking's ordered entries, best first; problems within it are ranked apart."""

    ranking: Descriptor
    entries: tuple[Entry, ...]


def leaderboard(ranking: Descriptor, records: Iterable[Record]) -> Leaderboard:
    """Score every successful record that has all the ranking's metrics; best first,
    grouped by problem (a score means nothing across problems)."""
    needed = set(ranking.spec.metrics)
    scored = [
        Entry(rec, float(ranking.fn(rec.metrics)))
        for rec in records
        if rec.status == "ok" and needed <= rec.metrics.keys()
    ]
    scored.sort(key=lambda e: (e.record.run.problem, -e.score))
    return Leaderboard(ranking, tuple(scored))


def leaderboards(catalog: Catalog, records: Iterable[Record]) -> list[Leaderboard]:
    """One leaderboard per installed ranking module."""
    stored = list(records)
    return [leaderboard(r, stored) for r in catalog.of("ranking")]
