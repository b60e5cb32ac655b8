"""Fault injection for the results store: two runners on one database, a runner killed
while holding runs, read-only, foreign, newer, legacy and damaged files, locks and
overflowing values. Each fault ends in one ``StoreError`` line (or, for claims, in every run
being trained by exactly one runner), and no finished run is lost or overwritten."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from saibench_core.errors import SaibenchError, StoreError
from saibench_core.planner import Run
from saibench_core.results import SEED_MAX, Outcome, Store, schema
from saibench_core.results.claims import Holder

ROOT = Path(__file__).resolve().parent.parent
OK = Outcome("ok", {"accuracy": 0.9}, wall_seconds=1.0)
FAILED = Outcome("failed", reason="timed out (killed)")

# a runner in another process: opens the store, says "ready", claims the keys it is given,
# prints those it got, and keeps them until told to exit (or is killed); given a status, it
# "trains" each run it claims and stores that outcome, as run_campaign does
CLAIMER = """
import json, sys
from saibench_core.planner import Run
from saibench_core.results import Outcome, Store
store = Store(sys.argv[1])
print("ready", flush=True)
keys = json.loads(sys.stdin.readline())
got = []
for key in keys:
    if store.claim(key):
        got.append(key)
        if len(sys.argv) > 2:
            run = Run("wine", "linear", "adam", "jax", "cpu", chain=(), chain_cost=0.0, dims={}, hyper={},
                      metrics=(), rankings=())
            store.put(key, run, Outcome(sys.argv[2], reason="training diverged" if sys.argv[2] == "failed" else ""))
print(json.dumps(got), flush=True)
sys.stdin.readline()
store.close()
"""


def _run(seed: int = 0) -> Run:
    return Run("wine", "linear", "adam", "jax", "cpu", chain=(), chain_cost=0.0, dims={}, hyper={"model": {"width": 8}},
               metrics=("accuracy",), rankings=("by_accuracy",), seed=seed)


def _claimer(db: Path, *status: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", CLAIMER, str(db), *status], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _say(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(exc: pytest.ExceptionInfo[StoreError], path: Path, *needles: str) -> None:
    message = str(exc.value)
    assert "\n" not in message and str(path) in message and exc.value.path == str(path)
    for needle in needles:
        assert needle in message, message
    assert isinstance(exc.value, SaibenchError) and isinstance(exc.value, OSError)


# -- claims -------------------------------------------------------------------------------------


def test_two_runners_claim_every_run_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    keys = [f"run{i:03d}" for i in range(120)]
    with _claimer(db) as first, _claimer(db) as second:
        runners = [first, second]
        for proc in runners:  # both hold the same keys in the same order: every claim contends
            _say(proc, json.dumps(keys))
        got = [set(json.loads(proc.stdout.readline())) for proc in runners if proc.stdout]
        for proc in runners:
            _say(proc, "exit")
            assert proc.wait() == 0
    assert not got[0] & got[1]
    assert got[0] | got[1] == set(keys)


def test_two_runners_train_each_run_once_and_a_failure_never_hides_a_success(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    keys = [f"run{i:03d}" for i in range(60)]
    with _claimer(db, "ok") as good, _claimer(db, "failed") as bad:
        for proc in (good, bad):
            _say(proc, json.dumps(keys))
        trained = {status: set(json.loads(proc.stdout.readline())) for status, proc in (("ok", good), ("failed", bad))
                   if proc.stdout}
        for proc in (good, bad):
            _say(proc, "exit")
    # a failed run may be retried by the other runner (its row is not final), an ok one never
    assert trained["ok"] | trained["failed"] == set(keys)
    with Store(db) as store:
        assert {r.key: r.status for r in store.records()} == {k: "ok" if k in trained["ok"] else "failed" for k in keys}
        assert all(store.holder(k) is None for k in keys)  # every claim went with its put
        assert {k for k in keys if store.claim(k)} == set(keys) - trained["ok"]  # a rerun retries only the failures


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_a_killed_runners_claims_are_taken_over(tmp_path: Path, reaped: bool) -> None:
    db = tmp_path / "r.sqlite"
    with _claimer(db) as holder, Store(db) as store:
        _say(holder, json.dumps(["a", "b"]))
        assert holder.stdout is not None and json.loads(holder.stdout.readline()) == ["a", "b"]
        assert not store.claim("a")  # its holder is alive
        claim = store.holder("a")
        assert claim is not None and claim.holder.pid == holder.pid
        os.kill(holder.pid, signal.SIGKILL)
        if reaped:
            holder.wait()
        else:  # the parent has not reaped it yet: its PID still answers kill(pid, 0)
            while Path(f"/proc/{holder.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
                time.sleep(0.01)
        assert store.claim("a") and store.claim("b")
        assert store.holder("a") is not None and store.holder("a").holder.pid == os.getpid()  # type: ignore[union-attr]


def _plant(db: Path, key: str, *, machine: str, pid: int, pid_started: int, heartbeat: float) -> None:
    with contextlib.closing(sqlite3.connect(db)) as raw, raw:
        raw.execute("INSERT INTO claims VALUES (?, 'other-runner', 'elsewhere', ?, ?, ?, ?, ?)",
                    (key, machine, pid, pid_started, heartbeat, heartbeat))


def test_a_claim_from_another_machine_holds_until_its_lease_runs_out(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db, lease=60) as store:
        now = time.time()
        _plant(db, "fresh", machine="another-boot/pid:[1]", pid=1, pid_started=1, heartbeat=now)
        _plant(db, "stale", machine="another-boot/pid:[1]", pid=1, pid_started=1, heartbeat=now - 61)
        assert not store.claim("fresh")
        assert store.claim("stale")
        assert store.holder("fresh") is not None and store.holder("fresh").describe() == "pid 1 on elsewhere"  # type: ignore[union-attr]


def test_a_reused_pid_does_not_keep_a_dead_runners_claim(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    here = Holder.current()
    if here.pid_started == 0:
        pytest.skip("no /proc: process start times are unknown")
    with Store(db) as store:
        # this process's PID, as if a runner that held it had died and the PID been reused
        _plant(db, "k", machine=here.machine, pid=here.pid, pid_started=here.pid_started - 1, heartbeat=time.time())
        assert store.claim("k")


def test_refresh_renews_the_lease_and_close_releases(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    first = Store(db, lease=60)
    assert first.claim("k")
    with contextlib.closing(sqlite3.connect(db)) as raw, raw:
        raw.execute("UPDATE claims SET heartbeat = heartbeat - 3600")
    first.refresh()
    with Store(db, lease=60) as second:
        assert not second.claim("k")  # renewed: the holder is alive and heard of
        first.close()
        assert second.claim("k")


def test_a_stored_ok_run_is_never_claimed_and_put_drops_the_claim(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as first, Store(db) as second:
        assert first.claim("k") and first.claim("k")  # again: still ours
        assert first.put("k", _run(), FAILED)
        assert first.holder("k") is None
        assert second.claim("k")  # a failed run is retried
        assert second.put("k", _run(), OK)
        assert not first.claim("k") and not second.claim("k")
        assert first.claim("x") and first.claim("y")
        first.release("x", "y", "never-claimed")
        assert second.claim("x") and second.claim("y")


def test_a_failed_attempt_never_replaces_an_ok_row(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        assert store.put("k", _run(), FAILED)
        assert store.put("k", _run(), OK)  # ok replaces failed
        assert not store.put("k", _run(), FAILED)
        assert not store.put("k", _run(), Outcome("ok", {"accuracy": 0.1}))  # the first ok is final
        (record,) = store.records()
    assert (record.status, record.metrics) == ("ok", {"accuracy": 0.9})


# -- checked when opened ------------------------------------------------------------------------


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` (a file or folder) read-only: by mode, and for root (whom modes do not
    stop) by the immutable attribute where the file system has one."""
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    immutable = os.access(path, os.W_OK) and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        if os.access(path, os.W_OK):
            pytest.skip("cannot make a path read-only here (root, and no chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


def test_a_read_only_database_is_found_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.put("k", _run(), OK)
    with _read_only(db), pytest.raises(StoreError) as exc:
        Store(db)
    _one_line(exc, db, "read-only", "make it writable")
    with _read_only(db), Store.open_readonly(db) as reader:  # reading it still works
        assert [r.key for r in reader.records()] == ["k"]


def test_a_read_only_folder_is_found_when_opened(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    with _read_only(folder), pytest.raises(StoreError) as exc:
        Store(folder / "r.sqlite")
    _one_line(exc, folder / "r.sqlite", "read-only")
    assert not (folder / "r.sqlite").exists()


def test_a_read_only_folder_can_still_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    with Store(folder / "r.sqlite") as store:
        store.put("k", _run(), OK)
    with _read_only(folder), Store.open_readonly(folder / "r.sqlite") as reader:
        assert [r.key for r in reader.records()] == ["k"]


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE runs (key TEXT PRIMARY KEY, value TEXT)",
        "CREATE TABLE notes (x); CREATE TABLE people (name)",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('owner', 'a lab')",
    ],
    ids=["runs-other-columns", "other-tables", "other-meta"],
)
@pytest.mark.parametrize("readonly", [False, True], ids=["write", "read"])
def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path, sql: str, readonly: bool) -> None:
    db = tmp_path / "theirs.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as raw:
        raw.executescript(sql)
    before = _digest(db)
    with pytest.raises(StoreError) as exc:
        Store(db, readonly=readonly)
    _one_line(exc, db, "not a saibench results database", "--db")
    assert _digest(db) == before and sorted(os.listdir(tmp_path)) == ["theirs.sqlite"]
    with contextlib.closing(sqlite3.connect(db)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("delete",)


def test_a_database_from_a_newer_saibench_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    Store(db).close()
    with contextlib.closing(sqlite3.connect(db)) as raw, raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(schema.SCHEMA_VERSION + 1),))
    for readonly in (False, True):
        with pytest.raises(StoreError) as exc:
            Store(db, readonly=readonly)
        _one_line(exc, db, "newer saibench", "upgrade")


def test_a_database_of_the_previous_schema_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(db)) as raw, raw:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute(schema.RUNS_TABLE)  # the schema before meta and claims
        raw.execute("INSERT INTO runs VALUES ('k', 'wine', 'linear', 'adam', 'jax', 'cpu', 0, ?, 'ok', '', ?, '{}', 1.0, 0.0)",
                    (json.dumps(_run().to_json()), json.dumps({"accuracy": 0.9})))
    with Store.open_readonly(db) as reader:  # read as it is, not migrated
        assert [r.run for r in reader.records()] == [_run()]
    with contextlib.closing(sqlite3.connect(db)) as raw:
        assert raw.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone() is None
    with Store(db) as store:
        assert store.done("k") and store.claim("other")
    with contextlib.closing(sqlite3.connect(db)) as raw:
        assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)


def test_random_bytes_are_one_error_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    db.write_bytes(random.Random(0).randbytes(50_000))
    before = _digest(db)
    for readonly in (False, True):
        with pytest.raises(StoreError) as exc:
            Store(db, readonly=readonly)
        _one_line(exc, db, "not a SQLite database", "move it away")
    assert _digest(db) == before


def test_a_damaged_page_is_found_by_the_integrity_check(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        for i in range(200):
            store.put(f"k{i}", _run(i), OK)
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page:3 * page] = random.Random(1).randbytes(page)  # a page of runs, past the header
    db.write_bytes(bytes(data))
    for readonly in (False, True):
        with pytest.raises(StoreError) as exc:
            Store(db, readonly=readonly)
        _one_line(exc, db, "damaged", "move it away")


# -- read-only opening creates nothing ----------------------------------------------------------


def test_opening_a_missing_file_read_only_creates_nothing(tmp_path: Path) -> None:
    for path in (tmp_path / "typo.sqlite", tmp_path / "no" / "such" / "dir.sqlite"):
        with pytest.raises(StoreError) as exc:
            Store.open_readonly(path)
        _one_line(exc, path, "no such file")
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with pytest.raises(StoreError) as exc:
        Store.open_readonly(empty)
    _one_line(exc, empty, "empty")
    assert sorted(os.listdir(tmp_path)) == ["empty.sqlite"] and empty.stat().st_size == 0


def test_a_read_only_store_refuses_writes_and_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.put("k", _run(), OK)
    before = _digest(db)
    with Store.open_readonly(db) as reader:
        assert [r.key for r in reader.records()] == ["k"]
        with pytest.raises(StoreError) as exc:
            reader.put("k", _run(), OK)
        _one_line(exc, db, "opened read-only")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # SQLite itself refuses, too
            reader._db.execute("DELETE FROM runs")
    assert os.listdir(tmp_path) == ["r.sqlite"] and _digest(db) == before


# -- sqlite errors become one line --------------------------------------------------------------


def test_a_lock_held_too_long_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.sqlite"
    monkeypatch.setattr(schema, "BUSY_TIMEOUT", 0.05)
    with Store(db) as store, contextlib.closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        with pytest.raises(StoreError) as exc:
            store.put("k", _run(), OK)
        _one_line(exc, db, "database is locked", "wait for it")
        with pytest.raises(StoreError) as exc:
            store.claim("k")
        _one_line(exc, db, "database is locked", "wait for it")
        other.execute("ROLLBACK")
        assert store.put("k", _run(), OK)  # the store is usable again


def test_a_value_beyond_sqlite_integers_is_one_error(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        with pytest.raises(StoreError) as exc:
            store.put("k", _run(2**63), OK)
        _one_line(exc, db, "seed 9223372036854775808", "2**63 - 1")
        assert store.put("k", _run(SEED_MAX), OK)


def test_a_malformed_row_is_one_error_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    Store(db).close()
    with contextlib.closing(sqlite3.connect(db)) as raw, raw:
        raw.execute("INSERT INTO runs VALUES ('bad', 'p', 'm', 't', 's', 'h', 0, 'not json', 'ok', '', '{}', '{}', 0, 0)")
    with Store.open_readonly(db) as reader, pytest.raises(StoreError) as exc:
        list(reader.records())
    _one_line(exc, db, "run 'bad' is malformed")


# -- the command line ---------------------------------------------------------------------------


def saibench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.mark.parametrize("command", [("rank",), ("results", "export", "--format", "csv", "-o", "OUT")], ids=["rank", "export"])
def test_read_only_commands_with_a_mistyped_db_create_nothing(tmp_path: Path, command: tuple[str, ...]) -> None:
    db = tmp_path / "resluts.sqlite"
    done = saibench(*(str(tmp_path / "out.csv") if a == "OUT" else a for a in command), "--db", str(db))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and str(db) in done.stderr and "no such file" in done.stderr
    assert os.listdir(tmp_path) == []


def test_a_seed_beyond_sqlite_integers_stops_run_before_any_work(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    done = saibench("run", "--seed", "99999999999999999999", "--db", str(db), "--problem", "wine", "--model", "linear")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if "--seed" in ln]
    assert str(SEED_MAX) in line
    assert os.listdir(tmp_path) == []


def test_run_on_a_read_only_database_stops_before_training(tmp_path: Path) -> None:
    db = tmp_path / "r.sqlite"
    Store(db).close()
    with _read_only(db):
        done = saibench("run", "--db", str(db), "--problem", "wine", "--model", "linear")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()  # no progress: not one run started
    assert str(db) in line and "read-only" in line
