"""The results store: SQLite in WAL mode, one row per run, each committed atomically.

A run's key hashes everything that decides its outcome (modules, their versions and
source hashes, hyperparameters, chain, seed), so a campaign re-run skips what it already
has and re-runs what changed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from ..errors import StoreError
from ..planner import Run
from .outcome import Outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    problem TEXT NOT NULL, model TEXT NOT NULL, trainer TEXT NOT NULL,
    software TEXT NOT NULL, hardware TEXT NOT NULL, seed INTEGER NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL,
    metrics TEXT NOT NULL, details TEXT NOT NULL,
    wall_seconds REAL NOT NULL, finished_at REAL NOT NULL
)
"""


def default_path() -> Path:
    """``results.sqlite`` in the user's data directory (XDG on Linux)."""
    return Path(platformdirs.user_data_dir("saibench")) / "results.sqlite"


@attrs.frozen
class Record:
    """A stored run."""

    key: str
    run: Run
    status: str
    reason: str
    metrics: dict[str, float]
    details: dict[str, Any]
    wall_seconds: float


class Store:
    """A results database. Use as a context manager, or call ``close()``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open results database {str(self.path)!r}: {exc}; "
                f"pass a writable file with --db PATH"
            ) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def done(self, key: str) -> bool:
        """Whether a successful run with this key is stored."""
        row = self._db.execute("SELECT 1 FROM runs WHERE key = ? AND status = 'ok'", (key,)).fetchone()
        return row is not None

    def put(self, key: str, run: Run, outcome: Outcome) -> None:
        """Store one run's outcome in a single transaction (replacing a failed attempt)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, run.problem, run.model, run.trainer, run.software, run.hardware, run.seed,
                 json.dumps(run.to_json(), sort_keys=True), outcome.status, outcome.reason,
                 json.dumps(outcome.metrics), json.dumps(outcome.details), outcome.wall_seconds, time.time()),
            )

    def records(self, status: str | None = None) -> Iterator[Record]:
        """Stored runs, oldest first, optionally only those with ``status``."""
        query = "SELECT key, spec, status, reason, metrics, details, wall_seconds FROM runs"
        rows = self._db.execute(query + (" WHERE status = ?" if status else "") + " ORDER BY finished_at",
                                (status,) if status else ())
        for key, spec, st, reason, metrics, details, wall in rows:
            yield Record(key, Run.from_json(json.loads(spec)), st, reason, json.loads(metrics), json.loads(details), wall)
