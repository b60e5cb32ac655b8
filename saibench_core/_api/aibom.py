"""The stored campaign as an AI bill of materials (``saibench results aibom``)."""

from __future__ import annotations

from pathlib import Path

from ..discovery import Catalog, load_catalog
from ..results.aibom import write
from . import inputs
from .rank import results_db


def aibom(output: Path | str, *, db: Path | str | None = None, catalog: Catalog | None = None) -> int:
    """Write every stored model as an SPDX 3.0.1 AI bill of materials, JSON-LD
    (``saibench results aibom``): each successful run is an ``ai_AIPackage`` with its
    hyperparameters and metrics, trained and tested on a ``dataset_DatasetPackage`` (its
    SHA-256 checksum), depending on the ``software_Package`` s it ran with (see
    ``results.aibom``).

    Args:
        output: the file to write (e.g. ``bom.spdx.json``); checked writable before the
            database is read.
        db: the results database (default: ``results.sqlite`` in the user data directory).
        catalog: the modules, for their versions, fields and docs (default: every
            installed plugin's).

    Returns:
        How many models were written (failed runs trained none and are left out).

    Raises:
        InvalidInput: the output cannot be written.
        StoreError: the database is missing or unreadable.
    """
    path = inputs.output_file(Path(output))
    with results_db(db) as store:
        records = list(store.records("ok"))
    return write(records, load_catalog() if catalog is None else catalog, path)
