"""Reading results back from Python: leaderboards, a pandas DataFrame, export files."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..discovery import Catalog, load_catalog
from ..errors import MissingExtra, UsageError
from ..planner import select
from ..rank import Curve, Leaderboard, budgets, curves, leaderboards
from ..results import Record, Store, default_path
from ..results.export import FORMATS
from ..results.export import export as write
from ..results.export import rows as flat_rows
from . import inputs
from .plan import Globs

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("ok", "failed")


def _store(db: Path | str | None) -> Store:
    # reading never creates: a mistyped db is an error, not a new empty database
    return Store.open_readonly(Path(db) if db is not None else default_path())


def rank(*, db: Path | str | None = None, ranking: Globs = (), problem: Globs = (), tuned: bool = False,
         catalog: Catalog | None = None) -> list[Leaderboard]:
    """One leaderboard per installed ranking, from the stored results (``saibench rank``).

    Repetitions of a configuration are aggregated (median [95% bootstrap interval], tie groups by a paired test); one whose repetitions
    partly failed is ranked on its ok ones and flagged.

    Args:
        db: the results database (default: ``results.sqlite`` in the user data directory).
        ranking: glob patterns on ranking names; empty: every installed ranking.
        problem: glob patterns on problem names; only their stored runs are ranked.
        tuned: per configuration, only the grid point with the best median validation
            score (test values shown).
        catalog: the modules (default: every installed plugin's).

    Returns:
        The leaderboards; each has ``entries`` (best first, with ``place``) and ``notes``.

    Raises:
        UsageError: a ranking pattern matches no installed ranking.
        StoreError: the database is missing or unreadable.
    """
    rankings, problems = inputs.globs("ranking", ranking), inputs.globs("problem", problem)
    chosen = select(load_catalog() if catalog is None else catalog, {"ranking": rankings})
    with _store(db) as store:
        records = list(store.records())
    if problems:
        stored = sorted({r.run.problem for r in records})
        for pattern in problems:
            if not fnmatch.filter(stored, pattern):
                raise UsageError(f"rank(problem={pattern!r}): no stored run has a matching problem; stored problems: "
                                 f"{', '.join(stored) or 'none'} (run some first: saibench_core.run)")
        records = [r for r in records if any(fnmatch.fnmatchcase(r.run.problem, g) for g in problems)]
    return leaderboards(chosen, records, tuned=tuned)


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
    with _store(db) as store:
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
    with _store(db) as store:
        return write(store.records(status), path, format)
