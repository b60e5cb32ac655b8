"""Running a pod in its own process with a hard timeout: a crash, a hang or an exception
becomes a failed ``Outcome`` with its reason, and the caller carries on."""

from __future__ import annotations

import multiprocessing
import signal
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from ..planner import Run
from ..results.outcome import Outcome


def _pod_entry(run_json: dict[str, Any], conn: Connection) -> None:
    from .pod import execute

    try:
        result = execute(Run.from_json(run_json))
    except BaseException as exc:  # reported to the parent, never raised past the pod
        tail = "".join(traceback.format_exception(exc)[-3:]).strip()
        conn.send(("failed", f"{type(exc).__name__}: {exc}", {"traceback": tail}))
    else:
        conn.send(("ok", "", result))
    finally:
        conn.close()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"crashed with signal {signal.Signals(-code).name}"
        except ValueError:
            return f"crashed with signal {-code}"
    return f"exited with status {code} before reporting a result"


def run_isolated(run: Run, *, timeout: float) -> Outcome:
    """Execute ``run`` in a fresh spawned process, killed after ``timeout`` seconds."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_pod_entry, args=(run.to_json(), sender), daemon=True)
    start = time.perf_counter()
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            process.kill()
            process.join()
            return Outcome("failed", reason=f"timed out after {timeout:g} s (killed)", wall_seconds=time.perf_counter() - start)
        try:
            status, reason, details = receiver.recv()
        except EOFError:
            process.join()
            return Outcome("failed", reason=_exit_reason(process.exitcode), wall_seconds=time.perf_counter() - start)
    finally:
        receiver.close()
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
    metrics = details.pop("metrics", {}) if status == "ok" else {}
    return Outcome(status, metrics, reason, details, time.perf_counter() - start)
