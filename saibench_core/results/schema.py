"""Opening a results database: the checks that come before any run, and one-line errors.

A database is checked when it is opened, so that ``saibench run`` stops before training
rather than at the first commit, and ``rank`` says what is wrong rather than printing
nothing: the file is a SQLite database (a header check: random bytes never reach SQLite),
``PRAGMA quick_check`` passes, its tables are saibench's at a version this code knows, and,
for writing, a write succeeds. A foreign SQLite file is refused untouched: it is neither
switched to WAL nor given saibench's tables. A database made before the ``meta`` table
existed (``runs`` alone, with today's columns) is migrated by adding the other tables.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from ..errors import StoreError
from .claims import CLAIM_COLUMNS, CLAIMS_TABLE

SCHEMA_VERSION = 1
"""Version 0: ``runs`` alone. Version 1: adds ``meta`` (this version) and ``claims``."""

RUNS_TABLE = """
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
META_TABLE = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
COLUMNS = {
    "runs": ["key", "problem", "model", "trainer", "software", "hardware", "seed", "spec", "status", "reason",
             "metrics", "details", "wall_seconds", "finished_at"],
    "meta": ["key", "value"],
    "claims": CLAIM_COLUMNS.split(", "),
}
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT = 30.0  # seconds a statement waits for another runner's write lock

_MOVE_AWAY = "move it away (saibench then starts a new database there) or restore it from a backup"
_FIXES = {
    "SQLITE_BUSY": "another process has held it locked for over 30 s; wait for it, or pass another --db",
    "SQLITE_LOCKED": "another process has held it locked for over 30 s; wait for it, or pass another --db",
    "SQLITE_READONLY": "it is read-only: make the file and its folder writable, or pass another --db",
    "SQLITE_CANTOPEN": "check that the file and its folder exist and are readable (and writable, for `saibench run`)",
    "SQLITE_FULL": "the disk is full: free some space, or pass --db on another disk",
    "SQLITE_IOERR": "the disk failed a read or write: check it, or pass --db on another disk",
    "SQLITE_CORRUPT": f"it is damaged: {_MOVE_AWAY}",
    "SQLITE_NOTADB": f"it is not a SQLite database: {_MOVE_AWAY}",
}


def fix_for(exc: BaseException) -> str:
    """How to fix what ``exc`` (a sqlite3 error) says, for the end of a one-line message."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, fix in _FIXES.items():
        if name.startswith(prefix):  # extended codes: SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE, ...
            return fix
    if isinstance(exc, OverflowError):
        return "SQLite stores integers up to 2**63 - 1: use a smaller value (e.g. --seed)"
    return "pass another --db PATH, or move this file away"


@contextlib.contextmanager
def sqlite_errors(path: Path, doing: str) -> Iterator[None]:
    """Turn sqlite3 errors (and SQLite's integer overflow) raised while ``doing`` into one
    ``StoreError`` naming the file, what failed and how to fix it."""
    try:
        yield
    except (sqlite3.Error, OverflowError) as exc:
        raise StoreError(f"results database {str(path)!r}: {doing} failed: {exc}; {fix_for(exc)}",
                         path=str(path)) from exc


def refuse(path: Path, problem: str, fix: str) -> StoreError:
    """The error for a database that cannot be opened."""
    return StoreError(f"cannot open results database {str(path)!r}: {problem}; {fix}", path=str(path))


def connect(path: Path, *, writable: bool) -> sqlite3.Connection:
    """Open and check the results database at ``path``: see the module docstring.

    Writable: create it (and its folder) if missing, switch it to WAL, create or migrate
    the tables. Read-only: the file must exist, and no statement may write to it; nothing
    is created or left behind.

    Raises:
        StoreError: one line naming the file, the problem and how to fix it.
    """
    if path.is_dir():
        raise refuse(path, "it is a folder", "pass a file path with --db, e.g. --db results.sqlite")
    if path.exists():
        _check_header(path)
    elif not writable:
        raise refuse(path, "no such file", "check the --db path (results are written there by `saibench run --db PATH`)")
    else:
        above = next(p for p in path.parents if p.exists())
        if not above.is_dir():
            raise refuse(path, f"{str(above)!r} is a file, not a folder", "pass a path in a folder with --db PATH")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise refuse(path, f"cannot create its folder: {exc.strerror or exc}", "pass a writable path with --db PATH") from None
    if writable:
        _check_writable(path)
    with sqlite_errors(path, "opening"):
        db = _open(path, writable)
    try:
        with sqlite_errors(path, "checking"):
            _check_integrity(path, db)
            version = _version(path, db)
        if writable:
            with sqlite_errors(path, "preparing it for writing"):
                _prepare(db, version)
        elif version is None:
            raise refuse(path, "it is empty (no saibench results)", "check the --db path, or fill it with `saibench run --db PATH`")
    except BaseException:
        db.close()
        raise
    return db


def _open(path: Path, writable: bool) -> sqlite3.Connection:
    if writable:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    base = f"file:{urllib.parse.quote(str(path.absolute()))}"
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        # mode=rw never creates the file, and as the last connection to close it removes
        # SQLite's -wal and -shm side files, which a mode=ro connection leaves behind;
        # query_only makes SQLite itself refuse every write statement
        db = sqlite3.connect(base + "?mode=rw", uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
        db.execute("PRAGMA query_only = ON")
        return db
    uri = base + "?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return db
    except sqlite3.OperationalError as exc:
        # a WAL database in a read-only folder (an archive, a read-only mount) cannot get
        # its -shm file; with no -wal file beside it, the file holds every commit and no
        # writer can appear (it would need to create the -wal), so reading it as immutable
        # is exact
        wal = path.with_name(path.name + "-wal")
        if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN" or wal.exists():
            raise
        return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise refuse(path, f"cannot read it: {exc.strerror or exc}", "make it readable, or pass another --db") from None
    if head and head != SQLITE_HEADER:
        raise refuse(path, "it is not a SQLite database (no SQLite header: another kind of file, or overwritten)",
                     f"check the --db path; if this was a results database, {_MOVE_AWAY}")


def _check_writable(path: Path) -> None:
    # os.access sees modes, read-only mounts and (on Linux, even for root) immutable
    # files; whatever it misses, the write in _prepare finds before any run starts
    fix = "make it writable, or pass another --db PATH"
    if path.exists() and not os.access(path, os.W_OK):
        raise refuse(path, "the file is read-only", fix)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise refuse(path, f"its folder {str(path.parent)!r} is read-only (SQLite writes its -wal and -shm files there)", fix)


def _check_integrity(path: Path, db: sqlite3.Connection) -> None:
    # SQLite's reports span lines ("*** in database main ***\nPage 3: ..."): one line here
    problems = [" ".join(str(row[0]).split()) for row in db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise refuse(path, f"it is damaged ({problems[0]}{f', and {len(problems) - 1} more' if len(problems) > 1 else ''})",
                     _MOVE_AWAY)


def _version(path: Path, db: sqlite3.Connection) -> int | None:
    """The schema version, ``None`` for a database without tables; refuses a foreign one."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if not name.startswith("sqlite_")}
    if not tables:
        return None
    columns = {t: [row[1] for row in db.execute(f"PRAGMA table_info({t})")] for t in tables & COLUMNS.keys()}
    foreign = refuse(path, f"it is not a saibench results database (its tables: {', '.join(sorted(tables))})",
                     "pass the path of a results database with --db, or a new file's to start one")
    if "meta" not in tables:
        if columns.get("runs") != COLUMNS["runs"]:
            raise foreign
        return 0
    if columns["meta"] != COLUMNS["meta"]:
        raise foreign
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or not str(row[0]).isdigit():
        raise foreign
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise refuse(path, f"it was written by a newer saibench (schema version {version}, this one knows {SCHEMA_VERSION})",
                     "upgrade saibench (pip install -U saibench), or pass another --db")
    if any(columns.get(t) != COLUMNS[t] for t in ("runs", "claims")):
        raise refuse(path, f"its saibench tables are damaged (schema version {version}, columns differ)", _MOVE_AWAY)
    return version


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken up front (``BEGIN IMMEDIATE``) so that what it reads
    cannot change before it writes; committed at the end, rolled back on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _prepare(db: sqlite3.Connection, version: int | None) -> None:
    """WAL, then the tables at ``SCHEMA_VERSION``, in one transaction that also proves a
    write goes through (a read-only file or folder fails here, before any run)."""
    db.execute("PRAGMA journal_mode=WAL")
    with transaction(db):
        if version != SCHEMA_VERSION:
            for table in (RUNS_TABLE, META_TABLE, CLAIMS_TABLE):
                db.execute(table)
            db.execute("CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner)")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
