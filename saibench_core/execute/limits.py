"""What holds a BenchPod in, with or without the runner.

A pod is two processes. The *keeper* is the process multiprocessing starts (a child of the
fork server): it leads a session of its own, so ``os.killpg(0, ...)`` in a run reaches only
the run; it joins the pod's cgroup where one can be made, sets the rlimits, becomes the
child subreaper of everything below it, and forks the *worker*, which runs the work. The
worker dies with its keeper (``PR_SET_PDEATHSIG``: its parent is the single-threaded
keeper, so the signal fires exactly when the keeper dies, and a run that kills its parent
ends only itself; the fork server, shared by every pod, is never a pod's parent).

The keeper only waits. When the worker ends, it kills every process left below it
(orphans, even those that escaped with ``setsid``, re-parent to it); it also kills the tree
when the runner is gone (the reader of the result pipe closed) or ``timeout +
GRACE_SECONDS`` passed, so a run never outlives its limits when the runner dies or stalls.

Rlimits, all backstops for the runner's own, finer checks: ``RLIMIT_CPU`` at the timeout
times the cores, ``RLIMIT_DATA`` at twice the memory limit plus 1 GiB (``RLIMIT_AS`` breaks
JAX: a jitted matmul on CPU reserves 1.5 GB of address space for 0.2 GB resident, and CUDA
reserves far more), ``RLIMIT_CORE`` 0 (a segfaulting run does not write a core file). No
``RLIMIT_FSIZE``: it would also cap saved weights and caches; logs go through a pipe instead
(``logcap``).

A cgroup v2 per pod (``Cgroup``) is used where the runner may create one (often not in
containers; ``SAIBENCH_CGROUPS=off`` disables it): ``cgroup.kill`` ends every process in it
at once, wherever it re-parented. The runner is a child subreaper too, so the processes of a
pod whose keeper was killed come to it to be killed and reaped.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import resource
import select
import signal
import time
from itertools import count
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

import psutil

GRACE_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_KILL_ROUNDS = 5  # a fork bomb refills the tree between listing and killing
_LIBC = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> bool:
    return bool(_LIBC.prctl(option, value, 0, 0, 0) == 0)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants: orphans below it re-parent
    to it, not to init. False where the kernel refuses. Done once per process (it is called
    for every pod); a forked child, which does not inherit the setting, does it again."""
    return _become_subreaper(os.getpid())


@functools.cache
def _become_subreaper(pid: int) -> bool:  # keyed by pid: the cache is inherited across fork, the setting is not
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _lower(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def set_rlimits(timeout: float, memory_limit_mb: float | None) -> None:
    """The pod's rlimits (module docstring); inherited by everything the run starts."""
    _lower(resource.RLIMIT_CORE, 0)
    if math.isfinite(timeout):
        _lower(resource.RLIMIT_CPU, math.ceil((timeout + GRACE_SECONDS) * (os.cpu_count() or 1)))
    if memory_limit_mb is not None and math.isfinite(memory_limit_mb):
        _lower(resource.RLIMIT_DATA, int((2 * memory_limit_mb + 1024) * 2**20))


def alive(process: psutil.Process) -> bool:
    """Whether ``process`` runs (not a zombie, its pid not reused)."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def kill_all(processes: list[psutil.Process]) -> set[int]:
    """SIGKILL each process still alive (psutil checks a pid was not reused); the pids
    that were alive."""
    killed = set()
    for process in processes:
        if alive(process):
            try:
                process.kill()
                killed.add(process.pid)
            except psutil.Error:
                continue
    return killed


def reap(pids: set[int]) -> dict[int, int]:
    """Collect the wait status of those of ``pids`` that are this process's children
    (adopted as subreaper), so they leave no zombie; by pid."""
    statuses = {}
    for pid in pids:
        try:
            statuses[pid] = os.waitpid(pid, 0)[1]
        except ChildProcessError:
            continue
    return statuses


class Cgroup:
    """A cgroup v2 of one pod, made by the runner; the keeper joins it first thing."""

    _base: Path | None | bool = False  # False: not probed yet
    _names = count()

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def _find_base(cls) -> Path | None:
        try:
            mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines() if line.split()[2] == "cgroup2"]
            own = next(line[3:] for line in Path("/proc/self/cgroup").read_text().splitlines() if line.startswith("0::"))
        except (OSError, StopIteration, IndexError):
            return None
        return Path(mounts[0], own.lstrip("/")) if mounts else None

    @classmethod
    def create(cls) -> Cgroup | None:
        """A new empty cgroup beside the runner's, or None where none can be made."""
        if os.environ.get("SAIBENCH_CGROUPS", "").lower() in ("0", "off", "no", "false"):
            return None
        if cls._base is False:
            cls._base = cls._find_base()
            if cls._base is not None:
                cls._sweep(cls._base)
        if not isinstance(cls._base, Path):
            return None
        path = cls._base / f"saibench-pod-{os.getpid()}-{next(cls._names)}"
        try:
            path.mkdir()
        except OSError:  # read-only or not delegated to us: stop trying for this runner
            cls._base = None
            return None
        return cls(path)

    @staticmethod
    def _sweep(base: Path) -> None:
        """Remove the pod cgroups of runners that died (SIGKILL leaves them behind), killing
        any process of theirs still in them (a run whose keeper and runner both died)."""
        try:
            stale = [path for path in base.glob("saibench-pod-*-*") if not psutil.pid_exists(int(path.name.split("-")[2]))]
        except (OSError, ValueError):
            return
        for path in stale:
            left = Cgroup(path)
            left.kill()
            left.remove()

    def join(self) -> bool:
        """Move the calling process into this cgroup (pod side)."""
        try:
            (self.path / "cgroup.procs").write_text("0\n")
        except OSError:
            return False
        return True

    def pids(self) -> set[int]:
        try:
            return {int(pid) for pid in (self.path / "cgroup.procs").read_text().split()}
        except OSError:
            return set()

    def kill(self) -> set[int]:
        """SIGKILL every process in the cgroup; their pids."""
        pids = self.pids()
        if pids:
            try:
                (self.path / "cgroup.kill").write_text("1\n")
            except OSError:  # before Linux 5.14: one by one
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        continue
        return pids

    def remove(self) -> None:
        """Remove the (emptied) cgroup; killed processes leave it within moments."""
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


def die_with_parent(parent: int) -> None:
    """Worker side: SIGKILL this process when ``parent`` (the keeper) dies."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the keeper died before the prctl took hold
        os._exit(1)


def kill_descendants() -> set[int]:
    """Keeper side: SIGKILL every process below this one, round after round until none is
    left; their pids."""
    me = psutil.Process()
    killed: set[int] = set()
    for _ in range(_KILL_ROUNDS):
        try:
            below = me.children(recursive=True)
        except psutil.Error:
            break
        now = kill_all(below)
        if not now:
            break
        killed |= now
    return killed


def _reap_adopted(worker: int) -> int | None:
    """Reap every exited child of the keeper; the worker's wait status if it was one."""
    status = None
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return status
        if pid == 0:
            return status
        if pid == worker:
            status = wait_status


def keep(worker: int, result: Connection, timeout: float) -> NoReturn:
    """Keeper side: wait for the worker, the runner's end or the deadline; then kill every
    process left below, tell the runner how many (on ``result``) and exit as the worker did."""
    deadline = time.monotonic() + timeout + GRACE_SECONDS if math.isfinite(timeout) else math.inf
    poller = select.poll()
    poller.register(result.fileno(), 0)  # POLLERR / POLLHUP: the runner's end is closed
    watched = os.pidfd_open(worker) if hasattr(os, "pidfd_open") else None
    if watched is not None:
        poller.register(watched, select.POLLIN)
    status: int | None = None
    ended = "worker exited"

    def on_signal(signum: int, _: object) -> None:  # killpg(0, SIGTERM) by the run, or terminate()
        _report_and_exit(result, worker, signum, f"signal {signal.Signals(signum).name}")

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    while status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            ended = f"the keeper's deadline ({timeout:g} s + {GRACE_SECONDS:g} s grace) passed"
            break
        wait_ms = min(left, 0.05 if watched is None else 1.0) * 1000
        events = poller.poll(wait_ms)
        if any(fd == result.fileno() for fd, _ in events):
            ended = "the runner is gone"
            break
        status = _reap_adopted(worker)
    _report_and_exit(result, worker, status, ended)


def _report_and_exit(result: Connection, worker: int, status: int | None, ended: str) -> NoReturn:
    killed = kill_descendants()
    killed.discard(worker)
    _reap_adopted(worker)
    if status is None:
        status = _wait_killed(worker)
    try:
        # the worker's exit code travels with the report: the runner may kill the keeper
        # (which then dies of SIGKILL, not of the worker's signal) before it has exited
        result.send(("keeper", {"killed": sorted(killed), "ended": ended, "worker_exit": os.waitstatus_to_exitcode(status)}))
    except OSError:
        pass
    _exit_as(status)


def _wait_killed(worker: int) -> int:
    try:
        return os.waitpid(worker, 0)[1]
    except ChildProcessError:
        return signal.SIGKILL  # a wait status: killed by SIGKILL


def _exit_as(wait_status: int) -> NoReturn:
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:  # die of the worker's signal, so the runner reports it
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        time.sleep(1)
        os._exit(128 - code)
    os._exit(code)


def describe_killed(n: int) -> str:
    """``" with 3 child processes"``, or nothing for none."""
    return f" with {n} child process{'es' if n != 1 else ''}" if n else ""
