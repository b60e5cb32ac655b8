"""Leaderboards: each ranking module's total order over the stored runs it applies to.

Policy, stated in every table and JSON entry:

- A configuration's repetitions (seeds, splits) are aggregated: metrics are medians over its
  *ok* repetitions (NaN, not measured, left out), and its score is the ranking of those
  median metrics; per-repetition scores give the range.
- Failed repetitions are never dropped silently: a configuration with some is ranked on its ok
  repetitions and *flagged* (``"flagged": true``; ``!`` after its place), and its failed
  repetitions are listed with their reasons. One with no ok repetition is shown, unranked.
- Each median carries its 95 % bootstrap interval, and places are tie groups:
  configurations that a paired test over their shared seeds and splits cannot tell apart
  share a place (``rank.uncertainty`` says which test, at which level).
- Only finite scores take places (best first, higher score first as the ``ranking``
  contract says); a NaN or infinite score is shown after them, unranked, in stored order.
- Each problem's trivial reference baseline (majority class, training mean, persistence:
  ``execute.reference``) is a row of its own, marked and never placed, where its score
  would rank: its metrics are medians over splits of the ``reference_metrics`` stored with
  the runs (one run per split; the reference does not depend on the method).
- A partial-order ranking (``@ranking(order="partial")``, ``Pareto``) places configurations
  in fronts of their median metrics instead (``rank.pareto``): ``place`` is the front, no
  score is computed, no tie test made; the reference row is shown in the front it would
  join, never counted.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import attrs

from ..discovery import Catalog, Descriptor
from ..planner import Run
from ..results import Record
from . import pareto, uncertainty, values
from .repetitions import describe, latest_by_configuration, references
from .tuned import SELECTED_ON, select

RANKED_ON = "median metrics over ok repetitions; failed ones listed, configuration flagged"
RANKED_ON_FRONTS = "fronts (non-dominated sorting) of median metrics over ok repetitions; failed ones listed, configuration flagged"
UNTUNED = "not tuned: a partial order has no score to choose a grid point on; every grid point shown"
REFERENCES = "reference-baselines"  # rank --json's key for the reference rows, {ranking: [rows]}


def _order(rec: Record) -> tuple[int, int]:
    return rec.run.seed, rec.run.split


@contextlib.contextmanager
def _failing_on(run: Run, what: str = "") -> Iterator[None]:
    """A ``values.RankingFailed`` raised within names the run it failed on."""
    try:
        yield
    except values.RankingFailed as exc:
        label = f"{run.problem} × {run.model_label} by {run.trainer}, seed {run.seed} split {run.split}"
        raise values.RankingFailed(f"failed on {what}run {label}: {exc}") from None


def _medians(records: tuple[Record, ...]) -> dict[str, float]:
    """Median of each metric over ``records`` (NaN: measured in none)."""
    names = sorted({m for r in records for m in r.metrics})
    return {m: values.median(r.metrics.get(m, values.NAN) for r in records) for m in names}


@attrs.frozen
class Entry:
    """One row of a leaderboard: a configuration, aggregated over its repetitions.

    ``records`` are its ok repetitions, ``failed`` its failed ones (both by seed, split);
    ``scores`` the ranking's score of each ok repetition; ``score`` the ranking's score of the
    median metrics; ``place`` its rank within its problem (``None``: unranked);
    ``validation_score`` the score of its median validation metrics (``rank --tuned``);
    ``metrics`` and ``spread`` the median and ``(min, max)`` of each metric over the ok
    repetitions (NaN: measured in none), computed from ``records`` once. Under a partial
    order (``partial``) there is no score (NaN, ``scores`` empty) and ``front`` is its
    front (``place`` too, except for a reference row, which is never placed).
    """

    records: tuple[Record, ...]
    failed: tuple[Record, ...]
    scores: tuple[float, ...]
    score: float
    place: int | None = None
    validation_score: float | None = None
    reference: str = ""  # the reference baseline's name: a row that is never placed
    partial: bool = False
    front: int | None = None
    tried: int | None = None  # ``rank --tuned``: the grid points of its tuning group it was chosen among
    metrics: dict[str, float] = attrs.field(init=False, eq=False, repr=False)
    spread: dict[str, tuple[float, float]] = attrs.field(init=False, eq=False, repr=False)
    intervals: dict[str, tuple[float, float]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        metrics = _medians(self.records)
        object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "spread", {m: values.span(r.metrics.get(m, values.NAN) for r in self.records)
                                            for m in metrics})
        object.__setattr__(self, "intervals", {m: uncertainty.interval([r.metrics.get(m, values.NAN) for r in self.records])
                                               for m in metrics})

    @classmethod
    def of(cls, ranking: Descriptor, records: Iterable[Record]) -> Entry:
        """The entry of one configuration's repetitions under ``ranking``."""
        ok = tuple(sorted((r for r in records if r.status == "ok"), key=_order))
        failed = tuple(sorted((r for r in records if r.status != "ok"), key=_order))
        if ranking.spec.order == "partial":
            return cls(ok, failed, (), values.NAN, partial=True)
        names = ranking.spec.metrics
        per_rep = []
        for r in ok:
            with _failing_on(r.run):
                per_rep.append(values.score(ranking.fn, names, r.metrics))
        if not ok:
            return cls(ok, failed, (), values.NAN)
        with _failing_on(ok[0].run, "the median metrics of "):
            median = values.median_score(ranking.fn, names, (r.metrics for r in ok))
        return cls(ok, failed, tuple(per_rep), median)

    @classmethod
    def of_reference(cls, ranking: Descriptor, records: Iterable[Record]) -> Entry | None:
        """The reference row of one problem variant from its runs (one per split), or
        ``None`` where its stored reference metrics lack one of ``ranking``'s."""
        chosen = [r for r in records if set(ranking.spec.metrics) <= r.details["reference_metrics"].keys()]
        if not chosen:
            return None
        names = {r.details.get("reference", "reference") for r in chosen}
        as_runs = [Record(f"reference:{r.key}", r.run, "ok", "", dict(r.details["reference_metrics"]),
                          {"validation_metrics": r.details.get("reference_validation_metrics", {})}, 0.0) for r in chosen]
        return attrs.evolve(cls.of(ranking, as_runs), reference=" / ".join(sorted(names)))

    @property
    def label(self) -> str:
        """The model column: the model with its fills (and, fine-tuned, the run its weights
        started from: ``unet_segmenter ← particle_denoise×unet_denoiser``), or
        ``reference: <name>``."""
        if self.reference:
            return f"reference: {self.reference}"
        return self.run.started_label

    @property
    def run(self) -> Run:
        """The configuration (its first repetition's run)."""
        return (self.records or self.failed)[0].run

    @property
    def repetitions(self) -> tuple[Record, ...]:
        """Every repetition, ok or failed, by (seed, split)."""
        return tuple(sorted(self.records + self.failed, key=_order))

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.run.seed for r in self.repetitions)

    @property
    def splits(self) -> tuple[int, ...]:
        return tuple(r.run.split for r in self.repetitions)

    @property
    def varied(self) -> str:
        """What the repetitions varied, in words (``5 repetitions: seeds 0–4, splits 0–4``)."""
        if self.reference:
            return f"reference over split{'s' if len(self.splits) > 1 else ''} {', '.join(map(str, self.splits))}"
        return describe(self.seeds, self.splits)

    @property
    def flagged(self) -> bool:
        """Ranked on its ok repetitions although some failed."""
        return bool(self.failed) and bool(self.records)

    @property
    def score_range(self) -> tuple[float, float]:
        return values.span(self.scores)

    @property
    def score_interval(self) -> tuple[float, float]:
        """The bootstrap interval of the median per-repetition score (``rank.uncertainty``)."""
        return uncertainty.interval(self.scores)

    @property
    def paired_scores(self) -> dict[tuple[int, int], float]:
        """Each ok repetition's score by (seed, split), for paired tests."""
        return {_order(r): score for r, score in zip(self.records, self.scores, strict=True)}

    def to_json(self) -> dict[str, Any]:
        """Roles, hyperparameters, repetitions (what varied, which failed and why), median
        metrics, spreads and score (``"order": "partial"`` and the ``"front"`` under a
        partial order). Non-finite floats are left as they are: encode with
        ``results.export.json_safe``."""
        run = self.run.to_json()
        order = {"order": "partial", "front": self.front} if self.partial else {"order": "total"}
        if self.reference:
            return {"problem": run["problem"], "reference": self.reference, "model": self.label, "place": None, **order,
                    "hyperparameters": {"problem": run["hyperparameters"].get("problem", {})},
                    "ranked_on": "unranked: the problem's reference baseline, median over splits",
                    "splits": list(self.splits), "metrics": dict(self.metrics),
                    "spread": {m: list(v) for m, v in self.spread.items()}, **self._intervals_json(), "score": self.score,
                    "score_range": list(self.score_range), "scores": list(self.scores)}
        keep = ("problem", "model", "trainer", "software", "hardware", "chain", "fills", "hyperparameters")
        failed = [{"seed": r.run.seed, "split": r.run.split, "reason": r.reason,
                   **({"kept_metrics": r.details["kept_metrics"]} if "kept_metrics" in r.details else {})}
                  for r in self.failed]
        tuned = {} if self.validation_score is None else {"validation_score": self.validation_score, "selected_on": SELECTED_ON,
                                                          "configurations_tried": self.tried}
        tested = {} if self.partial else {"tie_test": uncertainty.TEST}
        return {**{k: run[k] for k in keep}, "started_from": self.run.origin, "place": self.place, **order,
                "flagged": self.flagged, "ranked_on": RANKED_ON_FRONTS if self.partial else RANKED_ON,
                "varied": self.varied, "seeds": list(self.seeds), "splits": list(self.splits),
                "ok": len(self.records), "failed": failed, "metrics": dict(self.metrics),
                "spread": {m: list(v) for m, v in self.spread.items()}, **self._intervals_json(), "score": self.score,
                "score_range": list(self.score_range), "scores": list(self.scores), **tested, **tuned}

    def _intervals_json(self) -> dict[str, Any]:
        return {"intervals": {m: list(v) for m, v in self.intervals.items()}, "score_interval": list(self.score_interval),
                "interval": uncertainty.INTERVAL}


@attrs.frozen
class Leaderboard:
    """A ranking's entries, problem by problem, best first; ``notes`` say what was left out.

    ``tuned``: one grid point per configuration, chosen on validation (``rank --tuned``).
    ``references``: each problem's reference baseline row (never placed); ``rows`` shows
    them among the entries where their scores would rank. ``anchors``: a combined score's
    fixed ``(worst, best)`` per metric, by problem variant (``rank.combined``).
    """

    ranking: Descriptor
    entries: tuple[Entry, ...]
    tuned: bool = False
    notes: tuple[str, ...] = ()
    references: tuple[Entry, ...] = ()
    anchors: dict[str, dict[str, tuple[float, float]]] = attrs.field(factory=dict, eq=False)

    @property
    def rows(self) -> tuple[Entry, ...]:
        """The entries with the reference rows among them, as tables show them."""
        return place(self.entries + self.references, self.ranking) if self.references else self.entries


def _applies(ranking: Descriptor, rec: Record) -> bool:
    if rec.status == "ok":
        return set(ranking.spec.metrics) <= rec.metrics.keys()
    return ranking.name in rec.run.rankings


def place(entries: Iterable[Entry], ranking: Descriptor | None = None) -> tuple[Entry, ...]:
    """``entries`` grouped by problem; within each, finite scores first (higher first) with
    their places (tie groups: ``rank.uncertainty``), then the rest unranked in the order
    given (never reordered around NaN); under a partial-order ``ranking``, by front
    (``fronts``). A reference row goes where its score would rank (last if it is not
    finite), unplaced."""
    placed: list[Entry] = []
    by_problem: dict[str, list[Entry]] = {}
    for e in entries:
        by_problem.setdefault(e.run.problem, []).append(e)
    for problem in sorted(by_problem):
        group = by_problem[problem]
        if ranking is not None and ranking.spec.order == "partial":
            placed += fronts(ranking, group)
            continue
        # a reference ties after the methods it equals: it does not outrank them
        ranked = sorted((e for e in group if values.ranks(e.score)), key=lambda e: (-e.score, bool(e.reference)))
        places = iter(uncertainty.tie_places([e.paired_scores for e in ranked if not e.reference]))
        placed += [attrs.evolve(e, place=None if e.reference else next(places)) for e in ranked]
        placed += [attrs.evolve(e, place=None) for e in group if not values.ranks(e.score) and not e.reference]
        placed += [e for e in group if not values.ranks(e.score) and e.reference]
    return tuple(placed)


def _comparable(ranking: Descriptor, entry: Entry) -> bool:
    """Whether a partial order may compare ``entry``: ok repetitions, every metric measured."""
    return bool(entry.records) and not any(math.isnan(entry.metrics.get(m, values.NAN)) for m in ranking.spec.metrics)


def _within_front(ranking: Descriptor, entry: Entry) -> float:
    """The order inside a front: by a Pareto order's first metric, best first (stored order
    for another comparison)."""
    goals = ranking.spec.pareto.goals if ranking.spec.pareto is not None else ()
    if not goals:
        return 0.0
    name, goal = goals[0]
    return -entry.metrics[name] if goal == "max" else entry.metrics[name]


def fronts(ranking: Descriptor, group: Iterable[Entry]) -> list[Entry]:
    """One problem's entries under a partial-order ranking: the comparable methods in their
    fronts (``rank.pareto``; ``place`` = ``front``), front by front, each reference row at
    the end of the front it would join (``front`` set, never placed), then the rest
    unranked in the order given.

    Raises:
        values.RankingFailed: the comparison failed or is not a strict partial order.
    """
    rows = list(group)
    methods = [e for e in rows if not e.reference and _comparable(ranking, e)]
    refs = [e for e in rows if e.reference and _comparable(ranking, e)]
    names = ranking.spec.metrics
    points = [{m: e.metrics[m] for m in names} for e in methods + refs]
    matrix = pareto.dominance(ranking.fn, points)
    front = pareto.fronts([row[:len(methods)] for row in matrix[:len(methods)]])
    shown = [attrs.evolve(e, place=f, front=f) for e, f in zip(methods, front, strict=True)]
    for k, ref in enumerate(refs, start=len(methods)):
        shown.append(attrs.evolve(ref, place=None, front=pareto.joining(front, [row[k] for row in matrix[:len(methods)]])))
    shown.sort(key=lambda e: (e.front, bool(e.reference), _within_front(ranking, e)))
    rest = [e for e in rows if not _comparable(ranking, e)]
    return shown + [attrs.evolve(e, place=None) for e in rest if not e.reference] + [e for e in rest if e.reference]


def leaderboard(ranking: Descriptor, records: Iterable[Record], *, tuned: bool = False) -> Leaderboard:
    """The leaderboard of ``ranking`` over ``records`` (ok and failed).

    Args:
        ranking: a ranking module's descriptor; it applies to ok runs that have all its
            metrics, and to failed runs it was attached to.
        records: stored runs; one per repetition is kept (the last stored).
        tuned: keep one hyperparameter point per configuration, chosen on validation
            (see ``rank.tuned``).
    """
    return _board(ranking, *_prepared(records), tuned=tuned)


def leaderboards(catalog: Catalog, records: Iterable[Record], *, tuned: bool = False,
                 scope: Mapping[str, Collection[str]] | None = None) -> list[Leaderboard]:
    """One leaderboard per installed ranking module.

    Args:
        scope: the problems each ranking (by name) may rank, for those it names; a ranking
            it leaves out ranks every problem (``rank.perspective``).
    """
    keyed, baselines = _prepared(records)
    wanted = scope or {}
    return [_board(r, keyed, baselines, tuned=tuned, problems=wanted.get(r.name)) for r in catalog.of("ranking")]


def _prepared(records: Iterable[Record]) -> tuple[list[tuple[str, Record]], list[list[Record]]]:
    """What no ranking changes: the repetitions kept (the last stored of each) with their
    configurations, and the stored reference baselines of each problem variant."""
    stored = list(records)
    return latest_by_configuration(stored), list(references(stored).values())


def _board(ranking: Descriptor, keyed: Iterable[tuple[str, Record]], baselines: Iterable[list[Record]], *,
           tuned: bool, problems: Collection[str] | None = None) -> Leaderboard:
    """``leaderboard`` over what ``_prepared`` made of the records (only ``problems``' when given)."""
    groups: dict[str, list[Record]] = {}
    for config, rec in keyed:
        if _applies(ranking, rec) and (problems is None or rec.run.problem in problems):
            groups.setdefault(config, []).append(rec)
    notes: tuple[str, ...] = ()
    partial = ranking.spec.order == "partial"
    try:
        entries = [Entry.of(ranking, g) for g in groups.values()]
        if tuned and partial:
            notes = (UNTUNED,)
        elif tuned:
            entries, notes = select(ranking, entries)
        shown = {e.run.problem for e in entries}
        references_of = (Entry.of_reference(ranking, g) for g in baselines)
        rows = tuple(e for e in references_of if e is not None and e.run.problem in shown)
        if partial:  # a reference's front is read off the methods' dominance
            rows = tuple(e for e in place(entries + list(rows), ranking) if e.reference)
        return Leaderboard(ranking, place(entries, ranking), tuned and not partial, notes, rows)
    except values.RankingFailed as exc:
        # one ranking's fault fails only its board, with one note; the other boards stand
        fix = f"fix ranking {ranking.name!r} or block plugin {ranking.plugin!r} with SAIBENCH_BLOCK_PLUGINS"
        return Leaderboard(ranking, (), tuned, (SELECTED_ON,) * tuned + (f"{exc}; {fix}",))
