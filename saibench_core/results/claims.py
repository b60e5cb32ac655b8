"""Claims: a runner takes a run in the results database before it starts training it.

Two runners on one database must neither train a run twice nor let one's failure overwrite
the other's success. Each runner claims a run's key before starting it (``Store.claim``);
the claim is a row in the ``claims`` table, taken in a write transaction, so of several
runners exactly one gets it. Storing the run's outcome drops the claim in the same
transaction; closing the store drops the rest.

A runner that is SIGKILLed cannot drop its claims, so a claim carries who holds it and is
*void* — free for the next runner — when either

- its holder ran on this machine (same boot, same PID namespace) and that process is gone:
  no such PID, a zombie, or a PID reused by a process that started later; or
- its lease ran out: the holder refreshes ``heartbeat`` every ``lease / 4`` seconds from a
  background thread (``Heartbeat``), so a heartbeat older than ``lease`` means a holder
  that is stopped, hung, or on another machine or container whose processes this one
  cannot see.

A void claim taken over while its holder still trains (a runner stopped for longer than the
lease, then resumed) costs a duplicate run, never a result: the store keeps the first ``ok``
row of a key and never replaces it (see ``Store.put``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

import attrs

LEASE_SECONDS = 300.0
"""How long a claim outlives its holder's last heartbeat."""

CLAIMS_TABLE = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL, host TEXT NOT NULL, machine TEXT NOT NULL,
    pid INTEGER NOT NULL, pid_started INTEGER NOT NULL,
    claimed_at REAL NOT NULL, heartbeat REAL NOT NULL
)
"""
CLAIM_COLUMNS = "key, owner, host, machine, pid, pid_started, claimed_at, heartbeat"


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """A process's state letter and start time (clock ticks after boot), from Linux's
    ``/proc``; ``None`` where there is no such process or no ``/proc``."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ")"
    fields = stat.rpartition(")")[2].split()
    return fields[0], int(fields[19])


@attrs.frozen
class Holder:
    """A process that holds claims: where it runs and which process it is."""

    host: str  # for people: the hostname shown in messages
    machine: str  # for liveness: boot id and PID namespace, so PIDs compare only within one
    pid: int
    pid_started: int  # 0 where unknown (no /proc)

    @classmethod
    def current(cls) -> Holder:
        """This process."""
        namespace = ""
        with contextlib.suppress(OSError):
            namespace = os.readlink("/proc/self/ns/pid")
        host = socket.gethostname()
        machine = f"{_read('/proc/sys/kernel/random/boot_id') or host}/{namespace}"
        stat = _proc_stat(os.getpid())
        return cls(host, machine, os.getpid(), stat[1] if stat else 0)

    def gone(self) -> bool:
        """Whether this process has ended (only meaningful on the machine it ran on)."""
        stat = _proc_stat(self.pid)
        if stat is not None:
            state, started = stat
            return state in "ZX" or (self.pid_started != 0 and started != self.pid_started)
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False


@attrs.frozen
class Claim:
    """A row of the ``claims`` table: ``key`` is being run by ``holder`` (token ``owner``,
    one per open store) since ``claimed_at``, last heard of at ``heartbeat``."""

    key: str
    owner: str
    holder: Holder
    claimed_at: float
    heartbeat: float

    @classmethod
    def from_row(cls, row: tuple[str, str, str, str, int, int, float, float]) -> Claim:
        """A claim from a row of ``SELECT {CLAIM_COLUMNS} FROM claims``."""
        key, owner, host, machine, pid, pid_started, claimed_at, heartbeat = row
        return cls(key, owner, Holder(host, machine, pid, pid_started), claimed_at, heartbeat)

    def void(self, *, here: Holder, now: float, lease: float) -> bool:
        """Whether the claim no longer holds (see the module docstring)."""
        if now - self.heartbeat > lease:
            return True
        return self.holder.machine == here.machine and self.holder.gone()

    def describe(self) -> str:
        """Who holds it, for messages."""
        return f"pid {self.holder.pid} on {self.holder.host}"


class Heartbeat:
    """Refreshes the heartbeat of one owner's claims every ``interval`` seconds, on its
    own thread and its own connection (sqlite3 connections stay on their thread), so that
    a long run does not outlive its lease while the runner waits for it."""

    def __init__(self, path: Path, owner: str, interval: float) -> None:
        self._path, self._owner, self._interval = path, owner, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start beating (once; later calls do nothing)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="saibench-claims-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        # mode=rw: a database removed under the runner is not recreated empty by this thread
        uri = f"file:{urllib.parse.quote(str(self._path.absolute()))}?mode=rw"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        except sqlite3.Error:
            return  # the runner's own next write reports the problem; the lease frees the claims
        try:
            while not self._stop.wait(self._interval):
                # a missed beat (database busy beyond the timeout) is retried at the next;
                # only a lease's worth of misses frees the claims, and then put still keeps
                # the first ok row, so nothing here may end the runner
                with contextlib.suppress(sqlite3.Error):
                    refresh(db, self._owner)
        finally:
            db.close()


def refresh(db: sqlite3.Connection, owner: str) -> None:
    """Mark every claim of ``owner`` as heard of now."""
    db.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (time.time(), owner))
