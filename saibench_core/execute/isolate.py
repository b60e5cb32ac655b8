"""A BenchPod: one run in its own process tree, with a hard timeout, a memory limit,
captured output and monitoring. A crash, a hang, running out of memory or an exception
becomes a failed ``Outcome`` with its reason and the tail of its log, and the caller
carries on; no process the run started outlives it. ``isolated`` gives any other plugin
code the same containment (the campaign's dataset probes load each problem's data in a
pod this way).

Pods are forked from a *fork server* that has already imported NumPy, JAX, optax and the
plugins (imports only: no JAX backend is initialized before the fork, so no XLA thread is
copied). Each run is still a fresh process that shares nothing with the others; only the
import time (~1 s) is saved. A pod is a keeper and a worker in a session of their own
(``limits`` says why and what holds them without the runner). The parent samples the
tree's CPU and resident memory with psutil every ``SAMPLE_SECONDS``, kills it above the
memory limit or at the timeout, and after every run kills what is left: the pod's process
group, every descendant it has seen, the pod's cgroup, and orphans adopted as subreaper.
The pod's stdout and stderr come through a pipe, of which only the tail is kept
(``logcap``).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NoReturn

import attrs
import psutil

from ..data.setting import PROGRESS_PREFIX, show_progress
from ..planner import Run
from ..results.outcome import Outcome
from . import limits
from .logcap import LogTail, cap

SAMPLE_SECONDS = 0.1
PROGRESS = PROGRESS_PREFIX.encode()
LINE_LIMIT = 4096  # bytes of an unfinished log line kept while looking for progress lines
RESULT_MAX_BYTES = 64 * 2**20
# "__main__": the fork server imports the caller's main module once, so pods do not each
# re-import it (multiprocessing does that for spawn-like starts, ~0.1-0.5 s per pod)
PRELOAD = ["__main__", "saibench_core.execute.warm"]


def _pod_entry(work: Callable[..., dict[str, Any]], args: tuple[Any, ...], result: Connection, log: Connection,
               path: list[str], environ: dict[str, str], timeout: float, memory_limit_mb: float | None,
               cgroup: str | None) -> NoReturn:
    # the keeper (see limits): first out of the fork server's session and into the cgroup,
    # before anything the run controls can start a process
    os.setsid()
    if cgroup is not None:
        limits.Cgroup(Path(cgroup)).join()
    # the fork server started earlier: take the campaign's import path and environment
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    importlib.invalidate_caches()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)  # C libraries (XLA) write here too; Python's streams follow
    log.close()
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    limits.set_rlimits(timeout, memory_limit_mb)
    limits.become_subreaper()
    keeper = os.getpid()
    worker = os.fork()
    if worker == 0:
        limits.die_with_parent(keeper)
        _work(work, args, result)
    limits.keep(worker, result, timeout)


def _work(work: Callable[..., dict[str, Any]], args: tuple[Any, ...], result: Connection) -> NoReturn:
    result.send(("worker", os.getpid()))
    message: tuple[Any, ...]
    try:
        message = ("result", "ok", "", work(*args))
    except BaseException as exc:  # reported to the parent, never raised past the pod
        message = ("result", "failed", *failure(exc))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            continue
    try:
        result.send(message)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result is the run's failure, not the runner's
        result.send(("result", "failed", cap(f"its result could not be sent: {type(exc).__name__}: {exc}"), {}))
    os._exit(0)  # a forked child: no interpreter shutdown, which is the keeper's and the fork server's


def failure(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """``(reason, details)`` of a run that ``exc`` failed: its type and message (and the
    plugin frame that raised it), the traceback's tail, a hard fail's kept metrics; the
    whole traceback goes to the pod's log."""
    from .blame import plugin_frame
    from .evaluate import HardFail

    traceback.print_exception(exc)
    tail = cap("".join(traceback.format_exception(exc)[-3:]).strip())
    kept = {"kept_metrics": exc.metrics} if isinstance(exc, HardFail) else {}
    return cap(f"{type(exc).__name__}: {exc}{plugin_frame(exc)}"), {"traceback": tail, **kept}


def _execute_run(run_json: dict[str, Any], save_weights: str | None) -> dict[str, Any]:
    """A run pod's work: train and evaluate one run."""
    from .pod import execute

    warm = sys.modules.get("saibench_core.execute.warm")  # present when forked from the fork server
    return execute(Run.from_json(run_json), warm.catalog() if warm else None, save_weights)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"crashed with signal {signal.Signals(-code).name}"
        except ValueError:
            return f"crashed with signal {-code}"
    return f"exited with status {code} before reporting a result"


def _context(method: str) -> Any:
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


TRACE_POINTS = 200
"""The most points of a run's stored CPU and memory trace."""


class Monitor:
    """CPU and memory samples of the processes below ``process`` (the pod's keeper, itself
    not counted), and their summary; ``seen`` holds every process found in the tree, so
    that those that leave it (``setsid``, re-parenting) can still be killed."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.seen: dict[int, psutil.Process] = {}
        self.rss: list[int] = []
        self.cpu: list[float] = []

    def sample(self) -> int:
        """Record one sample; returns the tree's resident memory in bytes."""
        try:
            below = self.process.children(recursive=True)
        except psutil.Error:  # the pod just exited
            return 0
        rss, cpu = 0, 0.0
        for found in below:
            known = self.seen.setdefault(found.pid, found)
            if known is not found and not known.is_running():  # the pid was reused
                known = self.seen[found.pid] = found
            try:
                rss += known.memory_info().rss
                cpu += known.cpu_percent()  # 0 at a process's first sample: it starts the measurement
            except psutil.Error:
                continue
        self.rss.append(rss)
        self.cpu.append(cpu)
        return rss

    def summary(self) -> dict[str, Any]:
        """Peaks and means, and the trace: at most ``TRACE_POINTS`` points, each the peak of
        its stretch of consecutive samples (so that a short spike stays visible)."""
        if not self.rss:
            return {"samples": 0}
        stride = max(1, -(-len(self.rss) // TRACE_POINTS))
        return {"samples": len(self.rss), "interval_s": SAMPLE_SECONDS, "peak_rss_mb": max(self.rss) / 2**20,
                "mean_cpu_percent": sum(self.cpu) / len(self.cpu), "peak_cpu_percent": max(self.cpu),
                "trace": {"seconds": [round(i * SAMPLE_SECONDS, 2) for i in range(0, len(self.rss), stride)],
                          "rss_mb": [round(max(self.rss[i:i + stride]) / 2**20, 1) for i in range(0, len(self.rss), stride)],
                          "cpu_percent": [round(max(self.cpu[i:i + stride]), 1) for i in range(0, len(self.cpu), stride)]}}


_live: set[_Pod] = set()
_live_lock = threading.Lock()


def interrupt() -> None:
    """Kill every pod this process is watching (on Ctrl-C: pods lead sessions of their
    own, so the terminal's SIGINT no longer reaches them); each becomes a failed run."""
    with _live_lock:
        pods = list(_live)
    for pod in pods:
        pod.interrupted = True


class _Pod:
    """The runner's side of one started pod: its pipes, monitor and what it reported."""

    def __init__(self, process: Any, receiver: Connection, log: Connection, cgroup: limits.Cgroup | None) -> None:
        self.process = process
        self.keeper = psutil.Process(process.pid)
        self.receiver, self.log_pipe, self.cgroup = receiver, log, cgroup
        self.monitor = Monitor(self.keeper)
        self.log = LogTail()
        self.result: tuple[str, str, dict[str, Any]] | None = None
        self.keeper_report: dict[str, Any] = {}
        self.worker: int | None = None
        self.keeper_status: int | None = None  # when the runner reaped it (the fork server died)
        self.interrupted = False
        self._line = b""  # the log's last, unfinished line
        os.set_blocking(log.fileno(), False)

    def _progress(self, chunk: bytes) -> None:
        """Show each complete progress line of the log (``data.setting.Progress``)."""
        *lines, self._line = (self._line + chunk).split(b"\n")
        self._line = self._line[-LINE_LIMIT:]
        for line in lines:
            if line.startswith(PROGRESS):
                show_progress(line[len(PROGRESS):])

    def _read_log(self) -> None:
        while not self.log_pipe.closed:
            try:
                chunk = os.read(self.log_pipe.fileno(), 2**20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # every writer is gone
                self.log_pipe.close()
                return
            self.log.feed(chunk)
            self._progress(chunk)

    def _receive(self) -> bool:
        """Take one message; True when the pod has nothing more to say."""
        try:
            data = self.receiver.recv_bytes(RESULT_MAX_BYTES)
        except EOFError:
            return True
        except OSError:  # longer than the limit: the connection can no longer be read
            self.result = ("failed", f"its result was larger than {RESULT_MAX_BYTES // 2**20} MiB", {})
            return True
        message = pickle.loads(data)  # noqa: S301 - from our own pod, as multiprocessing's recv() would
        if message[0] == "worker":
            self.worker = int(message[1])
        elif message[0] == "result":
            self.result = message[1], message[2], message[3]
        else:  # the keeper's report: the worker has ended and the keeper is exiting
            self.keeper_report = dict(message[1])
            return True
        return False

    def watch(self, timeout: float, memory_limit_mb: float | None, start: float) -> str:
        """Follow the pod until it ends or a limit is hit; the reason it was stopped (to be
        killed), or "" if it ended by itself."""
        next_sample = 0.0
        while True:
            ready = wait([self.receiver] + ([] if self.log_pipe.closed else [self.log_pipe]), SAMPLE_SECONDS)
            if self.log_pipe in ready:
                self._read_log()
            if self.receiver in ready and self._receive():
                return ""
            now = time.perf_counter()
            if now < next_sample:
                continue
            next_sample = now + SAMPLE_SECONDS
            rss = self.monitor.sample()
            if self.result is not None and not self.interrupted:  # done: only the keeper's report is awaited
                if (not limits.alive(self.keeper) and not self.receiver.poll(0)) or now - start > timeout + limits.GRACE_SECONDS:
                    return ""
                continue
            if self.interrupted:
                return "interrupted"
            if now - start > timeout:
                return f"timed out after {timeout:g} s"
            if memory_limit_mb is not None and rss > memory_limit_mb * 2**20:
                return f"out of memory: {rss / 2**20:,.0f} MiB resident, above the limit of {memory_limit_mb:,.0f} MiB"
            if not limits.alive(self.keeper) and not self.receiver.poll(0):
                return ""

    def contain(self) -> int:
        """Kill whatever is left of the pod; how many processes besides the keeper and the
        worker were alive (those the keeper killed included)."""
        tree = [self.keeper, *self.monitor.seen.values()]
        try:
            tree += self.keeper.children(recursive=True)
        except psutil.Error:
            pass
        try:  # orphans adopted by the runner after their keeper died keep its session id
            tree += [child for child in psutil.Process().children() if os.getsid(child.pid) == self.keeper.pid]
        except (psutil.Error, OSError):
            pass
        if limits.alive(self.keeper):  # alive: its pid is still its group's, never another's
            try:
                os.killpg(self.keeper.pid, signal.SIGKILL)
            except OSError:
                pass
        killed = limits.kill_all(tree)
        if self.cgroup is not None:
            killed |= self.cgroup.kill()
        self.keeper_status = limits.reap(killed | {self.keeper.pid}).get(self.keeper.pid)  # adopted ones
        if self.cgroup is not None:
            self.cgroup.remove()
        # one count: a process the keeper killed may still be a zombie the runner kills again
        killed |= set(self.keeper_report.get("killed", ()))
        return len(killed - {self.keeper.pid, self.worker})

    def close(self) -> None:
        self._read_log()
        self.receiver.close()
        self.log_pipe.close()


def isolated(work: Callable[..., dict[str, Any]], args: tuple[Any, ...], *, timeout: float,
             memory_limit_mb: float | None = None, method: str = "forkserver") -> Outcome:
    """Call ``work(*args)`` in a fresh pod, killed after ``timeout`` seconds or above
    ``memory_limit_mb`` of resident memory; ``method`` is a multiprocessing start method.

    ``work`` is a module-level function (pods receive it by reference) returning a
    JSON-ready dict, which becomes the ``ok`` outcome's details; an exception, a crash, a
    hang or running out of memory becomes a ``failed`` outcome with the reason. Either
    way the details carry the pod's monitor summary and log tail, and every process the
    run started is killed before this returns (``details["killed_processes"]`` counts
    those left at a normal end).
    """
    ctx = _context(method)
    limits.become_subreaper()
    receiver, sender = ctx.Pipe(duplex=False)
    log_reader, log_writer = ctx.Pipe(duplex=False)
    cgroup = limits.Cgroup.create()
    process = ctx.Process(target=_pod_entry, args=(work, args, sender, log_writer, list(sys.path), dict(os.environ), timeout,
                                                   memory_limit_mb, str(cgroup.path) if cgroup else None), daemon=True)
    start = time.perf_counter()
    try:
        process.start()
    except BaseException:
        for conn in (receiver, sender, log_reader, log_writer):
            conn.close()
        if cgroup is not None:
            cgroup.remove()
        raise
    sender.close()
    log_writer.close()
    pod = _Pod(process, receiver, log_reader, cgroup)
    with _live_lock:
        _live.add(pod)
    stopped = "interrupted"
    try:
        stopped = pod.watch(timeout, memory_limit_mb, start)
    finally:
        with _live_lock:
            _live.discard(pod)
        others = pod.contain()
        process.join(timeout=10)
        pod.close()
    wall = time.perf_counter() - start
    status, reason, details = pod.result or ("failed", "", {})
    if stopped:
        status, reason = "failed", f"{stopped} (killed{limits.describe_killed(others)})"
    elif pod.result is None:
        # the worker's exit code, from the keeper's report; else the keeper's own, which
        # exits as the worker did: from the fork server, or from the runner's own wait
        # where the fork server died and the keeper was adopted
        code = pod.keeper_report.get("worker_exit")
        if code is None:
            code = process.exitcode if pod.keeper_status is None else os.waitstatus_to_exitcode(pod.keeper_status)
        reason = _exit_reason(code)
    elif others:
        details = {**details, "killed_processes": others}
    details = {**details, "monitor": pod.monitor.summary(), "log_tail": pod.log.text()}
    if pod.log.total > pod.log.max_bytes:
        details["log_bytes"] = pod.log.total
    return Outcome(status, {}, reason, details, wall)


def run_isolated(run: Run, *, timeout: float, memory_limit_mb: float | None = None, method: str = "forkserver",
                 save_weights: str | None = None) -> Outcome:
    """Execute ``run`` in a pod (see ``isolated``); ``save_weights`` a ``.npz`` path for the
    trained parameters."""
    outcome = isolated(_execute_run, (run.to_json(), save_weights), timeout=timeout, memory_limit_mb=memory_limit_mb, method=method)
    if outcome.status != "ok":
        return outcome
    details = dict(outcome.details)
    return attrs.evolve(outcome, metrics=details.pop("metrics", {}), details=details)


@attrs.frozen
class PodOptions:
    """How every pod of a campaign runs: its limits, and where trained weights go."""

    timeout: float = 600.0
    memory_limit_mb: float | None = None
    save_weights_dir: str | None = None
    keep_weights: frozenset[str] = frozenset()  # keys of pre-training runs, whose weights later runs start from
    batch: bool = True  # the repetitions of a configuration in one pod (``execute.batch``)


def run_pod(key: str, run: Run, options: PodOptions) -> Outcome:
    """``run_isolated`` with a campaign's options; weights saved as ``<dir>/<key>.npz``,
    except a pre-training run's (``keep_weights``), kept as ``pretraining.weights_path(key)``
    for the runs that start from it."""
    return run_isolated(run, timeout=options.timeout, memory_limit_mb=options.memory_limit_mb, save_weights=save_path(key, options))


def save_path(key: str, options: PodOptions) -> str | None:
    """Where a run's trained weights go: ``<dir>/<key>.npz`` with ``--save-weights``, a
    pre-training run's (``keep_weights``) as ``pretraining.weights_path(key)``, else nowhere."""
    from .pretraining import weights_path

    if key in options.keep_weights:
        return str(weights_path(key))
    return str(Path(options.save_weights_dir) / f"{key[:16]}.npz") if options.save_weights_dir else None
