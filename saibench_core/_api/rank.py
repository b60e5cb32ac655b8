"""Reading results back from Python: leaderboards, a pandas DataFrame, export files."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from ..discovery import Catalog, load_catalog
from ..errors import MissingExtra, UsageError
from ..execute.key import RunKeys
from ..planner import select
from ..planner.division import CLOSED_NOTE, DIVISIONS, at_reference
from ..rank import Curve, Leaderboard, Profile, budgets, combined_board, curves, leaderboards, profiles
from ..rank.combined import best_anchors
from ..rank.perspective import perspective as perspective_of
from ..results import Record, Store, default_path
from ..results.export import FORMATS
from ..results.export import export as write
from ..results.export import rows as flat_rows
from ..results.integrity import check
from . import inputs
from .plan import Globs

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("ok", "failed")


def results_db(db: Path | str | None) -> Store:
    """The results database ``db`` (default: the user data directory's), opened read-only."""
    # reading never creates: a mistyped db is an error, not a new empty database
    return Store.open_readonly(Path(db) if db is not None else default_path())


def rank(*, db: Path | str | None = None, ranking: Globs = (), problem: Globs = (), tuned: bool = False,
         perspective: Globs = (), combine: Mapping[str, float] | None = None,
         anchors: Mapping[str, tuple[float, float]] | None = None, division: str = "open",
         catalog: Catalog | None = None) -> list[Leaderboard]:
    """One leaderboard per installed ranking, from the stored results (``saibench rank``).

    Repetitions of a configuration are aggregated (median [95% bootstrap interval], tie groups by a paired test); one whose repetitions
    partly failed is ranked on its ok ones and flagged. A partial-order ranking (Pareto)
    places configurations in fronts instead (``Entry.front``).

    Args:
        db: the results database (default: ``results.sqlite`` in the user data directory).
        ranking: glob patterns on ranking names; empty: every installed ranking.
        problem: glob patterns on problem names; only their stored runs are ranked.
        tuned: per configuration, only the grid point with the best median validation
            score (test values shown).
        perspective: glob patterns on fields: the communities whose leaderboards to show -
            the rankings declared by a matching field, over every problem, and the general
            rankings over that field's problems only (``rank.perspective``).
        combine: a weight per metric: adds a board of the anchored combined score
            (``rank.combined``, named ``"combined-score"``), last.
        anchors: ``(worst, best)`` per metric of ``combine``, instead of the problem's
            reference baseline and the metric's ideal.
        division: ``"open"``: every stored run (``tuned`` boards say how many grid points
            each best one was chosen among); ``"closed"``: only runs of methods at their
            reference hyperparameters (``planner.division``).
        catalog: the modules (default: every installed plugin's).

    Returns:
        The leaderboards; each has ``entries`` (best first, with ``place``) and ``notes``.

    Raises:
        UsageError: a ranking pattern matches no installed ranking, a perspective no field.
        InvalidInput: a weight or an anchor of ``combine`` cannot work (unknown metric,
            weight not > 0, a metric with no ideal and no anchors).
        StoreError: the database is missing or unreadable.
    """
    rankings, problems = inputs.globs("ranking", ranking), inputs.globs("problem", problem)
    inputs.choice("division", division, DIVISIONS)
    fields = inputs.globs("perspective", perspective)
    installed = load_catalog() if catalog is None else catalog
    chosen = select(installed, {"ranking": rankings})
    scope: dict[str, frozenset[str]] = {}
    if fields:
        chosen, scope = perspective_of(chosen, fields)
    if combine is not None:
        best_anchors(installed, combine, anchors or {})  # before reading: the fix is not in the database
    with results_db(db) as store:
        records = list(store.records())
    if problems:
        stored = sorted({r.run.problem for r in records})
        for pattern in problems:
            if not fnmatch.filter(stored, pattern):
                raise UsageError(f"rank(problem={pattern!r}): no stored run has a matching problem; stored problems: "
                                 f"{', '.join(stored) or 'none'} (run some first: saibench_core.run)")
        records = [r for r in records if any(fnmatch.fnmatchcase(r.run.problem, g) for g in problems)]
    integrity = check(records, RunKeys(installed))  # never mix results of other code
    records = integrity.current
    if division == "closed":
        records = [r for r in records if at_reference(r.run, installed)]
    boards = leaderboards(chosen, records, tuned=tuned, scope=scope)
    if combine is not None:
        boards.append(combined_board(installed, _in_view(records, installed, fields), combine, anchors=anchors, tuned=tuned))
    notes = tuple(n for n in (CLOSED_NOTE if division == "closed" else None, integrity.note()) if n is not None)
    if notes:
        boards = [attrs.evolve(board, notes=(*board.notes, *notes)) for board in boards]
    return boards


def _in_view(records: list[Record], catalog: Catalog, fields: Globs) -> list[Record]:
    """The records of the problems whose field matches ``fields`` (all, without any)."""
    if not fields:
        return records
    kept = {p.name for p in catalog.of("problem") if any(fnmatch.fnmatchcase(p.spec.field, f) for f in fields)}
    return [r for r in records if r.run.problem in kept]


def performance_profiles(boards: Iterable[Leaderboard]) -> tuple[list[Profile], list[str]]:
    """The performance profiles across problems of each leaderboard with a score (Dolan &
    Moré; AlgoPerf's benchmark score as ``Profile.area``): per ranking, each method's
    (model with fills and trainer) performance ratio on every problem, best area first; and
    notes on what was left out (``rank.profiles`` says how a score becomes a cost).

    Args:
        boards: leaderboards (``rank()`` or ``Results.leaderboards()``).
    """
    found: list[Profile] = []
    notes: list[str] = []
    for board in boards:
        shown, left_out = profiles(board)
        found += shown
        notes += left_out
    return found, notes


def sample_efficiency(boards: Iterable[Leaderboard], catalog: Catalog | None = None) -> list[Curve]:
    """The sample-efficiency curves of the leaderboards' problems that name a label budget
    (``@problem(label_budget="labels")``): per ranking, each configuration's score at every
    budget it ran at, and the curve's area (``rank.efficiency``); best area first, problem
    by problem, the reference baseline's curve after them.

    Args:
        boards: leaderboards (``rank()`` or ``Results.leaderboards()``).
        catalog: the modules (default: every installed plugin's), for the problems' budgets.
    """
    budget_of = budgets(load_catalog() if catalog is None else catalog)
    return [curve for board in boards for curve in curves(board, budget_of)] if budget_of else []


def _require_pandas() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise MissingExtra("results as a DataFrame", "pandas", "pandas",
                           "or write them to a file: saibench_core.export(path, format='csv')") from None


def frame(records: Iterable[Record]) -> pd.DataFrame:
    """``records`` as a DataFrame, one row per run: the export's columns (see
    ``results.export``) with each hyperparameter in its own ``hyper.<role>.<name>`` column.

    Raises:
        MissingExtra: pandas is not installed.
    """
    _require_pandas()
    import pandas

    return pandas.DataFrame(flat_rows(records, flat_hyper=True))


def results_frame(*, db: Path | str | None = None, status: str | None = None) -> pd.DataFrame:
    """Every stored run as a pandas DataFrame, one row per run (pandas is optional:
    ``pip install 'saibench[pandas]'``).

    Columns: ``key``, the roles (``problem``, ``model`` with its filled slots, ``trainer``,
    ``software``, ``hardware``), ``seed``, ``split``, ``chain``, one ``hyper.<role>.<name>``
    per hyperparameter, ``status``, ``reason``, ``wall_seconds``, ``peak_rss_mb``, one
    ``metric.<name>`` per test metric and one ``validation.<name>`` per validation metric,
    ``reference`` (the trivial reference baseline's name) and one ``reference.<name>`` per
    metric the reference was scored on. NaN is *not measured*, ±inf *never reached*.

    Args:
        db: the results database (default: ``results.sqlite`` in the user data directory).
        status: only runs with this status (``"ok"`` or ``"failed"``).

    Returns:
        The DataFrame.

    Raises:
        MissingExtra: pandas is not installed.
        StoreError: the database is missing or unreadable.
    """
    if status is not None:
        inputs.choice("status", status, STATUSES)
    _require_pandas()  # before reading: the fix for a missing pandas is not in the database
    with results_db(db) as store:
        return frame(store.records(status))


def export(output: Path | str, *, format: str, db: Path | str | None = None, status: str | None = None) -> int:
    """Write every stored run as one row to a file (``saibench results export``).

    Args:
        output: the file to write; checked writable before the database is read.
        format: ``"csv"``, ``"json"`` or ``"parquet"`` (needs pyarrow).
        db: the results database (default: ``results.sqlite`` in the user data directory).
        status: only runs with this status (``"ok"`` or ``"failed"``).

    Returns:
        How many rows were written.

    Raises:
        InvalidInput: the output cannot be written, or an argument's value cannot work.
        StoreError: the database is missing or unreadable.
    """
    inputs.choice("format", format, FORMATS)
    if status is not None:
        inputs.choice("status", status, STATUSES)
    path = inputs.output_file(Path(output))
    with results_db(db) as store:
        return write(store.records(status), path, format)
