"""Leaderboards as terminal tables (rich), readable at 80 columns.

One table per ranking and problem (the problem goes to the title). Only what differs between
rows gets a column; what every row shares (platform, hyperparameters) goes to the caption.
Every column folds instead of cutting, so no name or number ends in "…". NaN (not measured)
shows as ``n/a``, infinity (never reached) as ``∞``. A problem's reference baseline is a row
marked ``ref`` in the place column, where its score would rank. Under a partial order the
place column is the configuration's front (``rank.pareto``) and there is no score column.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..planner import Run
from ..planner.compose import walk
from ..planner.rules import FIT
from .leaderboard import Entry, Leaderboard
from .pareto import caption as order_caption
from .tuned import SELECTED_ON
from .uncertainty import INTERVAL, TEST

FLAG = "!"
REF = "ref"  # the place column of a reference baseline's row
MIN_WIDTH, MODEL_WIDTH = 14, 10  # what a column squeezed to fit the terminal keeps at least
NAMES = ("trainer", "platform", "hyper-\nparams")  # squeezed last: a folded name reads worst


def number(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits; ``n/a`` for NaN, ``∞``/``-∞`` for infinities."""
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}g}"


def cell(median: float, low: float, high: float) -> str:
    """A median, with its interval ``[low, high]`` (three digits) on a second line when it
    has one of some width."""
    if low == high or math.isnan(low) or math.isnan(high):
        return number(median)
    return f"{number(median)}\n[{number(low, 3)}, {number(high, 3)}]"


def hyper_items(run: Run) -> list[str]:
    """Every hyperparameter of a run as ``name=value``: the problem's, the model's, each
    filled slot's (``slot.name=value``), the trainer's (none for ``fit``, the pseudo-trainer
    of methods fitted without gradients: no epochs, no learning rate)."""
    items = [f"{k}={v}" for role in ("problem", "model") for k, v in run.hyper.get(role, {}).items()]
    items += [f"{f.slot}.{k}={v}" for f in walk(run.fills) for k, v in f.hyper.items()]
    return items + ([] if run.trainer == FIT.name else [f"{k}={v}" for k, v in run.hyper.get("trainer", {}).items()])


def fitted_notes(entries: Sequence[Entry]) -> list[str]:
    """``fit: knn: 1-nearest neighbours (Euclidean)``: how each fitted row was fitted, as
    its runs recorded it (``Fitted.how``), once per distinct text."""
    notes = []
    for e in entries:
        texts = {r.details.get("fitted") for r in e.records}
        notes += [f"{FIT.name}: {e.run.model_label}: {how}" for how in sorted(t for t in texts if isinstance(t, str))]
    return list(dict.fromkeys(notes))


def _is_metric(score: float, value: float) -> bool:
    """Whether a single-metric ranking's score is its metric or its negation (``by_mae``):
    then the score column says nothing the metric's does not."""
    return score in (value, -value) or (math.isnan(score) and math.isnan(value))


def _platform(run: Run) -> str:
    return f"{run.software} @ {run.hardware}"


def _items(entry: Entry) -> list[str]:
    """A row's hyperparameters: a reference's are only its problem's."""
    if entry.reference:
        return [f"{k}={v}" for k, v in entry.run.hyper.get("problem", {}).items()]
    return hyper_items(entry.run)


def _methods(entries: Sequence[Entry]) -> list[Entry]:
    return [e for e in entries if not e.reference] or list(entries)


def _place(entry: Entry) -> str:
    if entry.reference:
        return REF
    return "-" if entry.place is None else f"{entry.place}{FLAG if entry.flagged else ''}"


def _runs(entry: Entry) -> str:
    n = len(entry.repetitions)
    return str(n) if not entry.failed else f"{len(entry.records)} ok\n{len(entry.failed)} failed"


def _columns(board: Leaderboard, entries: Sequence[Entry], common: list[str]) -> list[tuple[str, list[str]]]:
    """The table's columns as (header, cells): only those that tell the rows apart."""
    names = board.ranking.spec.metrics
    platforms = {_platform(e.run) for e in _methods(entries)}
    items = [[i for i in _items(e) if i not in common] for e in entries]
    columns = [("#", [_place(e) for e in entries]), ("model", [e.label for e in entries]),
               ("trainer", ["-" if e.reference else e.run.trainer for e in entries])]
    if len(platforms) > 1:
        columns.append(("platform", ["-" if e.reference else _platform(e.run) for e in entries]))
    if any(items):
        columns.append(("hyper-\nparams", ["\n".join(row) for row in items]))
    if len({e.varied for e in _methods(entries)}) > 1 or any(e.failed for e in entries):
        columns.append(("runs", [_runs(e) for e in entries]))
    if board.tuned:  # the open division's disclosure beside each best configuration
        columns.append(("tried", ["-" if e.tried is None else str(e.tried) for e in entries]))
    for m in names:
        columns.append((m, [cell(e.metrics.get(m, math.nan), *e.intervals.get(m, (math.nan, math.nan))) for e in entries]))
    if board.ranking.spec.order == "partial":
        return columns
    if len(names) > 1 or not all(_is_metric(e.score, e.metrics.get(names[0], math.nan)) for e in entries):
        columns.append(("score", [cell(e.score, *e.score_interval) for e in entries]))
    return columns


def _caption(board: Leaderboard, entries: Sequence[Entry], shared: list[str]) -> str:
    partial = board.ranking.spec.order == "partial"
    lines = [" ".join(board.ranking.doc.split("\n\n")[0].split())]
    if partial:
        lines.append(f"{order_caption(board.ranking)}; #: the front (1: no other configuration dominates it)")
    if board.tuned:
        lines.append(SELECTED_ON)
    if shared:
        lines.append("every row: " + " ".join(shared))
    lines += fitted_notes(entries)
    if any(len(e.records) > 1 for e in entries if not e.reference):
        lines.append(f"[ ]: {INTERVAL}" + ("; fronts of the medians" if partial else
                                          f"; #: shared by configurations no test tells apart ({TEST})"))
    if any(e.flagged for e in entries):
        lines.append(f"{FLAG} ranked on its ok repetitions only; the failed ones and their reasons are in --json")
    if any(e.place is None and not e.reference for e in entries):
        lines.append("- unranked: " + ("a metric not measured" if partial else "score not finite (not measured, never reached)")
                     + " or no ok repetition")
    if refs := sorted({e.reference for e in entries if e.reference}):
        where = "in the front it would join, never counted" if partial else "where it would rank, never placed"
        lines.append(f"{REF}: the problem's reference baseline ({', '.join(refs)}), fitted on the training fixture with "
                     f"every run, median over splits; shown {where}")
    shown = [e.metrics.get(m, math.nan) for e in entries for m in board.ranking.spec.metrics]
    shown += [] if partial else [e.score for e in entries]
    if not all(math.isfinite(v) for v in shown):
        lines.append("n/a: not measured; ∞: never reached")
    return "\n".join([line for line in lines if line] + [n for n in board.notes if n != SELECTED_ON])


def fit(natural: Sequence[int], least: Sequence[int], budget: int, last: int = 1,
        keep: Collection[int] = ()) -> list[int] | None:
    """Column widths within ``budget``: each column at least ``least`` and at most
    ``natural``. The room left goes one character at a time to the column that lacks the
    most, column ``last`` (the model's long label, which folds well) only once the others
    are whole; when even ``least`` does not fit, the widest columns not in ``keep`` give up
    characters first, down to 4. ``None`` when the natural widths fit: rich lays it out.

    >>> fit([2, 30, 8], [2, 10, 5], 30)
    [2, 20, 8]
    """
    if sum(natural) <= budget:
        return None
    widths = list(least)
    while sum(widths) > budget and max(widths) > 4:
        widest = max(range(len(widths)), key=lambda i: (i not in keep, widths[i]))
        widths[widest if widths[widest] > 4 else widths.index(max(widths))] -= 1
    for _ in range(max(budget - sum(widths), 0)):
        lacking = max(range(len(widths)), key=lambda i: (i != last, natural[i] - widths[i]))
        if natural[lacking] <= widths[lacking]:
            lacking = last
        widths[lacking] += 1
    return widths


def table(board: Leaderboard, problem: str, entries: Sequence[Entry], width: int = 80) -> Group:
    """The table of one problem's entries of ``board`` (one row per configuration) for a
    terminal ``width`` characters wide, with its notes below."""
    items = [hyper_items(e.run) for e in _methods(entries)]
    common = [i for i in items[0] if all(i in row for row in items[1:])]
    platforms = sorted({_platform(e.run) for e in _methods(entries)})
    title = f"ranking {board.ranking.name} on {problem}" + (", tuned on validation, test values" if board.tuned else "")
    title += "\n" + "; ".join(sorted({e.varied for e in _methods(entries)}))
    if any(len(e.records) > 1 for e in entries):
        title += " (median [95% interval])"
    shared = (platforms if len(platforms) == 1 else []) + common
    # Text, not str: module names such as "jax[cuda12]" or "[phi=...]" are not markup
    out = Table(title=Text(title), box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    columns = _columns(board, entries, common)
    lines = [[line for c in (header, *cells) for line in c.split("\n")] for header, cells in columns]
    # names stay whole where they can: a squeezed column keeps its longest word (up to
    # MIN_WIDTH; the model's label, often long, folds first)
    least = [min(max(len(w) for line in col for w in line.split()), MODEL_WIDTH if header == "model" else MIN_WIDTH)
             for (header, _), col in zip(columns, lines)]
    # between columns: one space of padding and one of separator
    names = [i for i, (header, _) in enumerate(columns) if header in NAMES]
    widths = fit([max(map(len, col)) for col in lines], least, width - 2 * (len(columns) - 1), keep=names)
    for i, (header, _) in enumerate(columns):
        out.add_column(header, overflow="fold", width=widths[i] if widths else None)
    for row in zip(*(cells for _, cells in columns)):
        out.add_row(*map(Text, row))
    # the notes below the table, as wide as the terminal (a caption is as narrow as the table)
    return Group(out, Text(_caption(board, entries, shared), style="dim"), Text())


def tables(board: Leaderboard, width: int = 80) -> list[Group]:
    """One table per problem on ``board``, in the board's order, for a terminal ``width``
    characters wide."""
    by_problem: dict[str, list[Entry]] = {}
    for entry in board.rows:
        by_problem.setdefault(entry.run.problem, []).append(entry)
    return [table(board, problem, entries, width) for problem, entries in by_problem.items()]
