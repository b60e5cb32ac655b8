"""``rank --tuned``: one hyperparameter point per configuration, chosen on validation.

Within each tuning group (problem with its hyperparameters, model with its fills, trainer,
software, hardware, chain: ``repetitions.tuning_group``) the grid point whose *median
validation metrics* (``details["validation_metrics"]`` of its ok repetitions) score best
under the ranking is kept, and shown with its *test* values. Choosing on the test set would
reward the point that happens to fit the test set best, not the best method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ..discovery import Descriptor
from ..results import Record
from . import values
from .repetitions import tuning_group

if TYPE_CHECKING:  # the leaderboard calls this module to tune its entries
    from .leaderboard import Entry

SELECTED_ON = ("tuned: per configuration, the grid point with the best median validation score; test values shown; "
               "tried: the grid points it was chosen among")


def _validation(rec: Record) -> dict[str, float] | None:
    found = rec.details.get("validation_metrics")
    return found if isinstance(found, dict) else None


def validation_score(ranking: Descriptor, entry: Entry) -> float | None:
    """The ranking's score of ``entry``'s median validation metrics over its ok repetitions
    that have them; ``None`` when none has.

    Raises:
        values.RankingFailed: the ranking failed on them (the message says so).
    """
    measured = [v for v in map(_validation, entry.records) if v is not None]
    if not measured:
        return None
    try:
        return values.median_score(ranking.fn, ranking.spec.metrics, measured)
    except values.RankingFailed as exc:
        raise values.RankingFailed(f"failed on the validation metrics: {exc}") from None


def select(ranking: Descriptor, entries: Sequence[Entry]) -> tuple[list[Entry], tuple[str, ...]]:
    """The best grid point of each tuning group (first stored wins a tie), and notes on what
    was left out: points without validation metrics, groups with no finite validation score."""
    groups: dict[str, list[tuple[float, Entry]]] = {}
    no_validation = no_ok = 0
    for entry in entries:
        if not entry.records:
            no_ok += 1
            continue
        score = validation_score(ranking, entry)
        if score is None:
            no_validation += 1
            continue
        groups.setdefault(tuning_group(entry.run), []).append((score, attrs.evolve(entry, validation_score=score)))
    chosen, unscored = [], 0
    for group in groups.values():
        scored = [(s, e) for s, e in group if values.ranks(s)]
        if scored:  # the open division's disclosure: how many grid points the best was chosen among
            chosen.append(attrs.evolve(max(scored, key=lambda pair: pair[0])[1], tried=len(group)))
        else:
            unscored += 1
    notes = [SELECTED_ON]
    if no_validation:
        notes.append(f"{no_validation} grid point(s) left out: no validation metrics stored (run them again)")
    if no_ok:
        notes.append(f"{no_ok} grid point(s) left out: no ok repetition to choose on")
    if unscored:
        notes.append(f"{unscored} configuration(s) left out: no finite validation score")
    return chosen, tuple(notes)
