"""Building models at plan time, contained: a model's ``Fail`` and its parameter count.

A model factory may reject a context (``raise Fail("needs at least 3 channels")``); the
planner must know before it lists the run. Factories are plugin code, so they are called
in a forked child (the plugins are already imported: a fork costs milliseconds), with
stdout and stderr sent to ``/dev/null`` and a time limit. A factory that crashes, hangs,
raises something other than ``Fail`` or exits cannot take ``solve`` down: its points are
*unjudged*, kept in the plan, and the run itself reports what happens (a failed run with
its reason). Only ``Fail`` removes a run at plan time.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from sail_types import Fail

BUILD_SECONDS = 15.0  # per batch of one model's points: room for a factory importing JAX or Equinox on a loaded machine; only a hang waits this long


@attrs.frozen
class Built:
    """What building one model point told the planner.

    ``failure`` is the model's ``Fail`` reason; ``parameters`` its parameter count where
    it could be sized (``None``: unknown, not checked); ``error`` why it could not be judged.
    """

    failure: str | None = None
    parameters: int | None = None
    error: str | None = None


def judge(build: Callable[[], Any], size: Callable[[Any], int | None]) -> Built:
    """Build once in this process: ``Fail`` → failure, other exceptions → unjudged."""
    try:
        layer = build()
    except Fail as fail:
        return Built(failure=fail.reason)
    except Exception as exc:  # noqa: BLE001 - plugin code: the run will report it
        return Built(error=f"{type(exc).__name__}: {exc}")
    try:
        return Built(parameters=size(layer))
    except Exception:  # noqa: BLE001 - a layer that cannot be sized is not checked
        return Built()


def _child(write_fd: int, jobs: Sequence[tuple[Callable[[], Any], Callable[[Any], int | None]]]) -> None:
    import faulthandler

    faulthandler.disable()  # a crash here is reported by the parent, not dumped on the user's terminal
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    with os.fdopen(write_fd, "wb") as out:
        for i, (build, size) in enumerate(jobs):
            pickle.dump((i, judge(build, size)), out)
            out.flush()


def judge_all(jobs: Sequence[tuple[Callable[[], Any], Callable[[Any], int | None]]], *, contained: bool = True,
              timeout: float = BUILD_SECONDS) -> list[Built]:
    """``judge`` every job; with ``contained``, in one forked child under ``timeout``.

    Args:
        jobs: ``(build, size)`` pairs: ``build()`` makes the layer, ``size(layer)`` counts
            its parameters.
        contained: fork a child (plugin code); ``False`` runs in this process (tests).
        timeout: seconds for the whole batch; jobs not judged by then are unjudged.

    Returns:
        One ``Built`` per job, in order.
    """
    if not contained or not jobs:
        return [judge(build, size) for build, size in jobs]
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # JAX warns at fork once it runs threads in this process (a notebook, a test). The
        # child only runs the plugin's factory; if it ever blocked on a lock a thread held,
        # the time limit makes its points unjudged, which keeps them in the plan.
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.setsid()  # a session of its own: a factory's os.killpg(0, ...) reaches only this child
        os.close(read_fd)
        try:
            _child(write_fd, jobs)
        finally:
            os._exit(0)
    os.close(write_fd)
    found: dict[int, Built] = {}
    buffer = b""
    deadline = time.monotonic() + timeout
    with os.fdopen(read_fd, "rb") as stream:
        while len(found) < len(jobs):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                break
            chunk = os.read(stream.fileno(), 1 << 16)
            if not chunk:
                break
            buffer += chunk
            while True:
                try:
                    (i, built), consumed = _load(buffer)
                except (EOFError, pickle.UnpicklingError, ValueError):
                    break
                found[i] = built
                buffer = buffer[consumed:]
    try:
        os.killpg(pid, signal.SIGKILL)  # with what the factory started; unreaped, pid is still its group's
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    why = _why(status, timeout, len(found) < len(jobs))
    return [found.get(i, Built(error=why)) for i in range(len(jobs))]


def _load(buffer: bytes) -> tuple[Any, int]:
    import io

    stream = io.BytesIO(buffer)
    value = pickle.load(stream)
    return value, stream.tell()


def _why(status: int, timeout: float, incomplete: bool) -> str:
    if not incomplete:
        return ""
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
        return f"building crashed with signal {signal.Signals(os.WTERMSIG(status)).name} at plan time"
    if os.WIFEXITED(status):
        return f"building exited with status {os.WEXITSTATUS(status)} at plan time"
    return f"building did not finish within {timeout:g} s at plan time"
