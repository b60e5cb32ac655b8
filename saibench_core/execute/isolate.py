"""A BenchPod: one run in its own process, with a hard timeout, a memory limit, captured
output and monitoring. A crash, a hang, running out of memory or an exception becomes a
failed ``Outcome`` with its reason and the tail of its log, and the caller carries on.
``isolated`` gives any other plugin code the same containment (the campaign's dataset
probes load each problem's data in a pod this way).

Pods are forked from a *fork server* that has already imported NumPy, JAX, optax and the
plugins (imports only: no JAX backend is initialized before the fork, so no XLA thread is
copied). Each run is still a fresh process that shares nothing with the others; only the
import time (~1 s) is saved. The parent samples the pod's CPU and resident memory with
psutil every ``SAMPLE_SECONDS`` and kills it above the memory limit.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import attrs
import psutil

from ..planner import Run
from ..results.outcome import Outcome

SAMPLE_SECONDS = 0.1
LOG_TAIL_LINES = 20
# "__main__": the fork server imports the caller's main module once, so pods do not each
# re-import it (multiprocessing does that for spawn-like starts, ~0.1-0.5 s per pod)
PRELOAD = ["__main__", "saibench_core.execute.warm"]


def _pod_entry(work: Callable[..., dict[str, Any]], args: tuple[Any, ...], conn: Connection, log_path: str,
               path: list[str], environ: dict[str, str]) -> None:
    # the fork server started earlier: take the campaign's import path and environment
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    importlib.invalidate_caches()
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)  # C libraries (XLA) write here too; Python's streams follow
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    from .pod import HardFail

    try:
        result = work(*args)
    except BaseException as exc:  # reported to the parent, never raised past the pod
        traceback.print_exception(exc)
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        kept = {"kept_metrics": exc.metrics} if isinstance(exc, HardFail) else {}
        conn.send(("failed", f"{type(exc).__name__}: {exc}", {"traceback": tail, **kept}))
    else:
        conn.send(("ok", "", result))
    finally:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()


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


class Monitor:
    """CPU and memory samples of a process tree, and their summary."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.rss: list[int] = []
        self.cpu: list[float] = []
        self.process.cpu_percent()  # the first call only starts the measurement

    def sample(self) -> int:
        """Record one sample; returns the tree's resident memory in bytes."""
        try:
            procs = [self.process, *self.process.children(recursive=True)]
            rss: int = sum(p.memory_info().rss for p in procs)
            cpu = self.process.cpu_percent()
        except psutil.Error:  # the pod just exited
            return 0
        self.rss.append(rss)
        self.cpu.append(cpu)
        return rss

    def summary(self) -> dict[str, Any]:
        if not self.rss:
            return {"samples": 0}
        return {"samples": len(self.rss), "interval_s": SAMPLE_SECONDS, "peak_rss_mb": max(self.rss) / 2**20,
                "mean_cpu_percent": sum(self.cpu) / len(self.cpu), "peak_cpu_percent": max(self.cpu)}


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


def isolated(work: Callable[..., dict[str, Any]], args: tuple[Any, ...], *, timeout: float,
             memory_limit_mb: float | None = None, method: str = "forkserver") -> Outcome:
    """Call ``work(*args)`` in a fresh pod, killed after ``timeout`` seconds or above
    ``memory_limit_mb`` of resident memory; ``method`` is a multiprocessing start method.

    ``work`` is a module-level function (pods receive it by reference) returning a
    JSON-ready dict, which becomes the ``ok`` outcome's details; an exception, a crash, a
    hang or running out of memory becomes a ``failed`` outcome with the reason. Either
    way the details carry the pod's monitor summary and log tail.
    """
    ctx = _context(method)
    receiver, sender = ctx.Pipe(duplex=False)
    with tempfile.TemporaryDirectory(prefix="saibench-pod-") as tmp:
        log_path = Path(tmp) / "pod.log"
        process = ctx.Process(target=_pod_entry, args=(work, args, sender, str(log_path), list(sys.path), dict(os.environ)), daemon=True)
        start = time.perf_counter()
        process.start()
        sender.close()
        monitor = Monitor(process.pid)
        status, reason, details = "failed", "", {}
        try:
            while True:
                if receiver.poll(SAMPLE_SECONDS):
                    try:
                        status, reason, details = receiver.recv()
                    except EOFError:
                        process.join()
                        reason = _exit_reason(process.exitcode)
                    break
                elapsed = time.perf_counter() - start
                rss = monitor.sample()
                if elapsed > timeout:
                    reason = f"timed out after {timeout:g} s (killed)"
                elif memory_limit_mb is not None and rss > memory_limit_mb * 2**20:
                    reason = f"out of memory: {rss / 2**20:,.0f} MiB resident, above the limit of {memory_limit_mb:,.0f} MiB (killed)"
                elif not process.is_alive() and not receiver.poll(0):
                    process.join()
                    reason = _exit_reason(process.exitcode)
                else:
                    continue
                break
        finally:
            receiver.close()
            if process.is_alive() and status != "ok":
                process.kill()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        wall = time.perf_counter() - start
        details = {**details, "monitor": monitor.summary(), "log_tail": _tail(log_path)}
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


def run_pod(key: str, run: Run, options: PodOptions) -> Outcome:
    """``run_isolated`` with a campaign's options; weights saved as ``<dir>/<key>.npz``."""
    save = str(Path(options.save_weights_dir) / f"{key[:16]}.npz") if options.save_weights_dir else None
    return run_isolated(run, timeout=options.timeout, memory_limit_mb=options.memory_limit_mb, save_weights=save)
