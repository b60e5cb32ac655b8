"""The results store: SQLite in WAL mode, one row per run, each committed atomically.

A run's key hashes everything that decides its outcome (modules, their versions and
source hashes, hyperparameters, chain, seed), so a campaign re-run skips what it already
has and re-runs what changed.

Several runners may share one database: each claims a run before starting it (``claim``),
so no run is trained twice, and an ``ok`` row is never replaced (``put``). The database is
checked when opened, for writing before any run starts (``schema``); read-only commands
open it with ``Store.open_readonly``, which creates nothing. Every sqlite error surfaces
as one ``StoreError`` line naming the file, what failed and how to fix it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from ..errors import StoreError, UsageError
from ..planner import Run
from .claims import CLAIM_COLUMNS, LEASE_SECONDS, Claim, Heartbeat, Holder, refresh
from .outcome import Outcome
from .schema import connect, sqlite_errors, transaction

SEED_MAX = 2**63 - 1 - 2**32
"""The largest ``--seed``: SQLite stores 64-bit signed integers, and ``--repeat`` adds up
to 2**32 seeds after it."""


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
    """A results database, opened for writing (``saibench run``): checked, and created if
    missing, before any run starts. Use as a context manager, or call ``close()``.

    Args:
        path: the SQLite file.
        readonly: open an existing database for reading only (``open_readonly``).
        lease: seconds a claim outlives its holder's last heartbeat (see ``claims``).

    Raises:
        StoreError: the file cannot be created, is read-only, damaged, foreign or newer;
            one line naming it and how to fix it.

    A runner sharing the database with others claims each run before starting it::

        with Store(path) as store:
            todo = [(key, run) for key, run in jobs if store.claim(key)]  # False: stored ok, or taken
            for key, run, outcome in execute(todo):
                store.put(key, run, outcome)  # stores and drops the claim; close() drops the rest
    """

    def __init__(self, path: Path | str, *, readonly: bool = False, lease: float = LEASE_SECONDS) -> None:
        if not lease > 0:
            raise UsageError(f"Store(lease={lease!r}): the lease must be a positive number of seconds")
        self.path = Path(path)
        self.writable = not readonly
        self.lease = lease
        self._db = connect(self.path, writable=self.writable)
        self._owner = uuid.uuid4().hex  # one per open store: two stores in one process are two runners
        if self.writable:  # only a writable store claims runs (``_write`` refuses the others)
            self._holder = Holder.current()
            self._heartbeat = Heartbeat(self.path, self._owner, interval=lease / 4)

    @classmethod
    def open_readonly(cls, path: Path | str) -> Store:
        """Open an existing database for reading (``rank``, ``results export``): a missing
        file is an error, and nothing is created or changed.

        Raises:
            StoreError: the file is missing, unreadable, damaged, foreign or newer.
        """
        return cls(path, readonly=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop this store's claims and close the connection."""
        if self.writable:
            self._heartbeat.stop()
            # best effort: a claim left behind (database gone, disk full) is void as soon
            # as this process has exited, and raising here would hide the error that
            # brought the runner down
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("DELETE FROM claims WHERE owner = ?", (self._owner,))
        self._db.close()

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (``BEGIN IMMEDIATE``) so that what it
        reads cannot change before it writes: two runners' transactions serialize."""
        if not self.writable:
            raise StoreError(f"results database {str(self.path)!r}: {doing} failed: it was opened read-only; "
                             "open it with Store(path) to write", path=str(self.path))
        with sqlite_errors(self.path, doing), transaction(self._db) as db:
            yield db

    def _stored_ok(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE key = ? AND status = 'ok'", (key,)).fetchone() is not None

    def done(self, key: str) -> bool:
        """Whether a successful run with this key is stored."""
        with sqlite_errors(self.path, "looking up a run"):
            return self._stored_ok(key)

    def claim(self, key: str) -> bool:
        """Take the run ``key`` for this runner before starting it.

        Returns ``False`` when the run is stored ``ok`` or another runner's claim on it
        holds (``holder(key)`` says whose); ``True`` when this store now holds it (also when
        it held it already). ``put`` or ``release`` drops the claim, and so does ``close``.
        A claim of a runner that died is void and taken over (see ``claims``).
        """
        with self._write("claiming a run") as db:
            if self._stored_ok(key):
                return False
            held = self._claim_row(key)
            if held is not None and held.owner != self._owner \
                    and not held.void(here=self._holder, now=time.time(), lease=self.lease):
                return False
            now, h = time.time(), self._holder
            db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (key, self._owner, h.host, h.machine, h.pid, h.pid_started, now, now))
        self._heartbeat.start()
        return True

    def holder(self, key: str) -> Claim | None:
        """The claim on ``key``, void or not; ``None`` if unclaimed."""
        with sqlite_errors(self.path, "looking up a claim"):
            return self._claim_row(key)

    def _claim_row(self, key: str) -> Claim | None:
        row = self._db.execute(f"SELECT {CLAIM_COLUMNS} FROM claims WHERE key = ?", (key,)).fetchone()
        return None if row is None else Claim.from_row(row)

    def release(self, *keys: str) -> None:
        """Drop this store's claims on ``keys`` (runs that will not be run after all, e.g.
        when a campaign stops early), in one transaction; keys not held are ignored."""
        with self._write("releasing claims") as db:
            db.executemany("DELETE FROM claims WHERE key = ? AND owner = ?", [(key, self._owner) for key in keys])

    def refresh(self) -> None:
        """Renew the lease of this store's claims (the heartbeat thread does this)."""
        with self._write("renewing claims") as db:
            refresh(db, self._owner)

    def put(self, key: str, run: Run, outcome: Outcome) -> bool:
        """Store one run's outcome and drop its claim, in a single transaction.

        An ``ok`` row is final: a later outcome for its key (a failed attempt of a second
        runner, or a duplicate success) is not stored. A failed row is replaced by the
        next outcome. Returns whether ``outcome`` was stored.
        """
        spec = json.dumps(run.to_json(), sort_keys=True)
        metrics, details = json.dumps(outcome.metrics), json.dumps(outcome.details)
        with self._write(f"storing run {key[:12]} ({run.problem} x {run.model}, seed {run.seed})") as db:
            stored = db.execute("SELECT status FROM runs WHERE key = ?", (key,)).fetchone()
            keep = stored is None or stored[0] != "ok"
            if keep:
                db.execute(
                    "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, run.problem, run.model, run.trainer, run.software, run.hardware, run.seed, spec,
                     outcome.status, outcome.reason, metrics, details, outcome.wall_seconds, time.time()),
                )
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self._owner))
        return keep

    _SELECT = "SELECT key, spec, status, reason, metrics, details, wall_seconds FROM runs"

    def records(self, status: str | None = None) -> Iterator[Record]:
        """Stored runs, oldest first, optionally only those with ``status``.

        Raises:
            StoreError: the database cannot be read, or a row is malformed (named by key).
        """
        with sqlite_errors(self.path, "reading runs"):
            rows = self._db.execute(self._SELECT + (" WHERE status = ?" if status else "") + " ORDER BY finished_at",
                                    (status,) if status else ()).fetchall()
        for row in rows:
            yield self._record(*row)

    def find(self, key: str) -> Record:
        """The run stored under ``key``, or under the one key that starts with it (as git
        takes a commit's short hash).

        Raises:
            UsageError: no key, or several, start with ``key``.
            StoreError: the database cannot be read, or the row is malformed.
        """
        prefix = key.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise UsageError(f"{key!r} is not a run key (hexadecimal; `saibench results export` lists them)")
        with sqlite_errors(self.path, "reading runs"):
            rows = self._db.execute(self._SELECT + " WHERE key >= ? AND key < ? ORDER BY key LIMIT 6",
                                    (prefix, prefix + "g")).fetchall()
        if not rows:
            raise UsageError(f"no run with key {key!r} in {str(self.path)!r} (`saibench results export` lists the keys)")
        if len(rows) > 1 and rows[0][0] != prefix:
            shown = ", ".join(row[0][: len(prefix) + 4] for row in rows[:5])
            raise UsageError(f"key {key!r} is ambiguous: it starts {'over 5' if len(rows) > 5 else len(rows)} runs' keys "
                             f"({shown}...); give more of it")
        return self._record(*rows[0])

    def _record(self, key: str, spec: str, status: str, reason: str, metrics: str, details: str, wall: float) -> Record:
        try:
            return Record(key, Run.from_json(json.loads(spec)), status, reason, json.loads(metrics), json.loads(details), wall)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"results database {str(self.path)!r}: run {key!r} is malformed ({type(exc).__name__}: {exc}); "
                             "delete that row, or move the database away", path=str(self.path)) from None
