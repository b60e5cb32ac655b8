"""The offline HTML report from Python (``saibench report``)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from ..discovery import Catalog, load_catalog
from ..results import default_path
from . import inputs
from .plan import Globs
from .rank import rank, results_db, sample_efficiency

EPOCH_ENV = "SOURCE_DATE_EPOCH"  # reproducible builds' convention: the time to state instead of now


def _generated() -> str:
    """When the report was made: now, or ``$SOURCE_DATE_EPOCH`` (then the bytes depend on the database only)."""
    epoch = os.environ.get(EPOCH_ENV, "").strip()
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch.isdigit() else datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def report(output: Path | str, *, db: Path | str | None = None, ranking: Globs = (), tuned: bool = False,
           catalog: Catalog | None = None) -> Path:
    """Write one self-contained HTML file of the stored results (``saibench report``): the
    leaderboards as ``rank`` makes them (medians, 95 % intervals, tie-group places, flags,
    reference rows, notes), work-precision, learning and sample-efficiency plots as inline
    SVG, and every run's status, reason, resources and log tail. It loads nothing: it reads
    offline.

    Args:
        output: the file to write; checked writable before the database is read.
        db: the results database (default: ``results.sqlite`` in the user data directory).
        ranking: glob patterns on ranking names; empty: every installed ranking.
        tuned: per configuration, only the grid point with the best median validation score.
        catalog: the modules (default: every installed plugin's).

    Returns:
        The path written.

    Raises:
        InvalidInput: the output cannot be written.
        MissingExtra: matplotlib is not installed (``pip install 'saibench[report]'``).
        UsageError: a ranking pattern matches no installed ranking.
        StoreError: the database is missing or unreadable.
    """
    from ..report import Material, render, require

    path = inputs.output_file(Path(output))
    require()  # before reading: the fix for a missing matplotlib is not in the database
    catalog = load_catalog() if catalog is None else catalog
    boards = rank(db=db, ranking=ranking, tuned=tuned, catalog=catalog)
    with results_db(db) as store:
        records = tuple(store.records())
    material = Material(tuple(boards), records, tuple(sample_efficiency(boards, catalog)))
    source = str(Path(db) if db is not None else default_path())
    path.write_text(render(material, source=source, generated=_generated()), encoding="utf-8")
    return path
