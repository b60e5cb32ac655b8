"""Commands that execute and rank: run, rank."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

import saibench_core as sb

from .._api.plan import VARY
from .._api.rank import performance_profiles
from ..discovery import Catalog
from ..errors import InvalidInput
from ..errors import Part as P
from ..planner import Run
from ..planner.division import DIVISIONS
from ..rank import REFERENCES, Leaderboard, efficiency_tables, number, profile_tables, tables
from ..rank.combined import NAME as COMBINED
from ..rank.perspective import RULE
from ..results import SEED_MAX, Outcome
from ..results.export import json_safe
from ._common import err, hyper_text, installed_catalog, main, out, plan_from, plan_options
from .validate import FiniteFloat

EFFICIENCY = "sample-efficiency"  # rank --json's key for the curves (not a module name: it has a "-")
PROFILES = "performance-profiles"  # rank --json's key for the profiles across problems
ANCHORS = f"{COMBINED}-anchors"  # rank --json's key for the combined score's anchors, by problem variant


def _print_boards(boards: Sequence[Leaderboard], catalog: Catalog) -> None:
    """One table per ranking and problem (see ``rank.table``); a board with no entry prints
    only its notes (e.g. ``--tuned`` over runs stored without validation metrics). Then the
    sample-efficiency curves of problems with a label budget (``rank.efficiency``)."""
    for board in boards:
        for table in tables(board, out.width):
            out.print(table)
        if not board.entries:
            for note in board.notes[1:] if board.tuned else board.notes:
                err.print(f"saibench: ranking {board.ranking.name}: {note}", style="yellow", soft_wrap=True)
    for curves in efficiency_tables(sb.sample_efficiency(boards, catalog)):
        out.print(curves)


class _Progress:
    """``run``'s progress on stderr: a bar from when the runs are known, a line per run done."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack

    def start(self, runs: Sequence[Run]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        if runs:
            self.bar = self.stack.enter_context(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                                         TimeElapsedColumn(), console=err, transient=False))
            self.task = self.bar.add_task("running", total=len(runs))

    def done(self, r: Run, outcome: Outcome | None) -> None:
        label = f"{r.problem} × {r.started_label} by {r.trainer} on {r.software} @ {r.hardware}, " \
                f"seed {r.seed} split {r.split}: {hyper_text(r)}"
        if outcome is None:
            self.bar.console.print(f"skip  {label} (already stored)", style="dim")
        elif outcome.status == "ok":
            shown = ", ".join(f"{k}={number(v)}" for k, v in outcome.metrics.items())
            self.bar.console.print(f"ok    {label}: {shown}", style="green")
        else:
            self.bar.console.print(f"FAIL  {label}: {outcome.reason}", style="red")
        self.bar.advance(self.task)


@main.command()
@plan_options
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Runs executed at once, each in its own process.")
@click.option("--timeout", default=600.0, show_default=True, type=FiniteFloat(0, open=True), help="Seconds before a run is killed.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where pods run: this machine, or Dask (a LocalCluster of -j workers, or --address).")
@click.option("--address", metavar="URL", help="Dask scheduler, e.g. tcp://10.0.0.1:8786 (implies --executor dask).")
@click.option("--save-weights", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Save each run's trained parameters as DIR/<run key>.npz.")
@click.option("--init-weights", type=click.Path(dir_okay=False, exists=True, path_type=Path), metavar="FILE",
              help="Start every run from these saved parameters (fine-tuning); part of each run's key.")
@click.option("--memory-limit", type=FiniteFloat(1), metavar="MiB", help="Kill a run whose resident memory exceeds this.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, SEED_MAX),
              help="Seed of model initialisation and shuffling.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Run each configuration N times (seeds SEED..SEED+N-1 and/or splits 0..N-1, see --vary).")
@click.option("--vary", type=click.Choice(VARY), default="both", show_default=True,
              help="What --repeat varies: the seed (initialisation, shuffling), the data split, or both.")
@click.option("--no-batch", is_flag=True,
              help="Run each repetition in its own pod (default: a configuration's repetitions share one, trained as one "
                   "vectorised program where they train alike).")
def run(db: Path | None, jobs: int, timeout: float, executor: str, address: str | None, save_weights: Path | None,
        init_weights: Path | None, memory_limit: float | None, max_chain: int, max_runs: int | None, strict_types: bool, seed: int,
        repeat: int, vary: str, no_batch: bool, division: str, fields: Sequence[str], settings: Sequence[str],
        **globs: Sequence[str]) -> None:
    """Plan and execute every feasible run, store the results, print the leaderboards.

    Runs already in the database with the same modules, versions and settings are skipped.
    Exits with status 1 when any run failed (the others are stored all the same).
    """
    plan = plan_from(globs, fields, settings, max_chain=max_chain, max_runs=max_runs, seed=seed, repeat=repeat, vary=vary,
                     strict_types=strict_types, division=division)
    with contextlib.ExitStack() as stack:
        bar = _Progress(stack)
        results = sb.run(plan, db=db, jobs=jobs, timeout=timeout, memory_limit=memory_limit, executor=executor,
                         address=address, save_weights=save_weights, init_weights=init_weights, on_start=bar.start,
                         on_done=bar.done, batch=not no_batch)
    counts = results.counts
    if not sum(counts.values()):
        err.print("saibench: nothing to run: no feasible run (see `saibench solve --all`)")
        return
    err.print(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} already stored; results in {results.db}")
    _print_boards(results.leaderboards(), plan.catalog)
    sys.exit(1 if counts["failed"] else 0)


def _pairs(option: str, texts: Sequence[str], example: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` items of comma-separated lists, as given."""
    items = [item.strip() for text in texts for item in text.split(",") if item.strip()]
    pairs = [item.partition("=") for item in items]
    for item, (name, eq, value) in zip(items, pairs, strict=True):
        if not (name and eq and value):
            raise InvalidInput(option, item, P.WHERE, f" is not NAME=VALUE; e.g. {example}")
    return [(name.strip(), value.strip()) for name, _, value in pairs]


def _number(option: str, item: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(option, item, P.WHERE, f": {text!r} is not a number") from None


def _weights(texts: Sequence[str]) -> dict[str, float] | None:
    """``--combine accuracy=1,macro_f1=0.5`` as weights (``None``: not given)."""
    pairs = _pairs("combine", texts, "accuracy=1,macro_f1=0.5")
    return {name: _number("combine", f"{name}={v}", v) for name, v in pairs} if texts else None


def _anchors(texts: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``--anchors train_time=60:0`` as (worst, best) per metric."""
    out = {}
    for name, value in _pairs("anchors", texts, "train_time=60:0"):
        worst, colon, best = value.partition(":")
        if not colon:
            raise InvalidInput("anchors", f"{name}={value}", P.WHERE, " is not METRIC=WORST:BEST; e.g. train_time=60:0")
        out[name] = (_number("anchors", f"{name}={value}", worst), _number("anchors", f"{name}={value}", best))
    return out


def _rank_json(boards: Sequence[Leaderboard], catalog: Catalog, with_profiles: bool) -> dict[str, Any]:
    """``rank --json``: ``{ranking: [entries]}`` and the extras under keys with a "-"."""
    for board in boards:
        for note in board.notes:
            err.print(f"saibench: ranking {board.ranking.name}: {note}", soft_wrap=True)
    shown: dict[str, Any] = {b.ranking.name: [e.to_json() for e in b.entries] for b in boards}
    # not a module name (no "-" in one), so it never shadows a ranking
    shown[REFERENCES] = {b.ranking.name: [e.to_json() for e in b.references] for b in boards if b.references}
    if efficiency := sb.sample_efficiency(boards, catalog):
        shown[EFFICIENCY] = [c.to_json() for c in efficiency]
    if anchored := [b for b in boards if b.ranking.name == COMBINED]:
        shown[ANCHORS] = {variant: {m: list(pair) for m, pair in fixed.items()} for variant, fixed in anchored[0].anchors.items()}
    if with_profiles:
        found, notes = performance_profiles(boards)
        for note in notes:
            err.print(f"saibench: {note}", soft_wrap=True)
        shown[PROFILES] = [p.to_json() for p in found]
    return shown


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")
@click.option("--ranking", "ranking_globs", multiple=True, metavar="GLOB", help="Only these rankings.")
@click.option("--perspective", "perspectives", multiple=True, metavar="FIELD",
              help=f"A community's leaderboards (repeatable, glob patterns on fields): {RULE}.")
@click.option("--profiles", "with_profiles", is_flag=True,
              help="Also performance profiles across problems per score ranking: each method's fraction of problems "
                   "within τ times the best cost, and AlgoPerf's area score.")
@click.option("--combine", "combine", multiple=True, metavar="METRIC=WEIGHT,...",
              help="Also a combined-score board: the weighted mean of these metrics, each normalised to fixed anchors "
                   "(0: the problem's reference baseline, 1: the metric's ideal), so adding a method moves no other's score.")
@click.option("--anchors", "anchor_texts", multiple=True, metavar="METRIC=WORST:BEST,...",
              help="Anchors of --combine metrics given instead (for one with no stored reference value or no ideal).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {ranking: [entries, best first]} as JSON (not measured: null; never reached: "Infinity"; '
                   'a partial order\'s entries with "order": "partial" and their "front"), '
                   'the problems\' reference baselines under "reference-baselines": {ranking: [rows]}, '
                   'sample-efficiency curves under "sample-efficiency": [curves], --combine\'s board under '
                   '"combined-score" with its anchors under "combined-score-anchors", and --profiles under '
                   '"performance-profiles": [profiles].')
@click.option("--tuned", is_flag=True, help="Per configuration, only the grid point with the best median validation score "
                                            "(and how many were tried).")
@click.option("--division", type=click.Choice(DIVISIONS), default="open", show_default=True,
              help="closed: only runs of methods at their reference hyperparameters; open: every run.")
def rank(db: Path | None, ranking_globs: Sequence[str], perspectives: Sequence[str], with_profiles: bool,
         combine: Sequence[str], anchor_texts: Sequence[str], as_json: bool, tuned: bool, division: str) -> None:
    """Print one leaderboard per ranking from the stored results.

    Repetitions of a configuration are aggregated (median [95% bootstrap interval], tie groups by a paired test); one whose repetitions
    partly failed is ranked on its ok ones and flagged. A partial-order ranking (Pareto)
    groups configurations in fronts (front 1: none dominates them). With --tuned,
    hyperparameters are chosen on validation and test values are shown.
    """
    catalog = installed_catalog()
    boards = sb.rank(db=db, ranking=ranking_globs, tuned=tuned, perspective=perspectives, combine=_weights(combine),
                     anchors=_anchors(anchor_texts), division=division, catalog=catalog)
    if as_json:
        click.echo(json.dumps(json_safe(_rank_json(boards, catalog, with_profiles)), indent=2, allow_nan=False))
        return
    _print_boards(boards, catalog)
    if not any(b.entries or b.notes for b in boards):
        view = f" (perspective {', '.join(perspectives)})" if perspectives else ""
        err.print(f"saibench: no stored run has the metrics of the chosen rankings{view}", style="yellow", soft_wrap=True)
    if with_profiles:
        found, notes = performance_profiles(boards)
        for table in profile_tables(found):
            out.print(table)
        for note in notes:
            err.print(f"saibench: {note}", style="yellow", soft_wrap=True)
