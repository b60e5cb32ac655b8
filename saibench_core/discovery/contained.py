"""Calls into plugin code that cannot end the command, or write to its stdout.

Every call saibench makes into a plugin in-process - importing it, its hooks, describing its
modules, their probes, a ranking's score - goes through ``guard``: stdout (both
``sys.stdout`` and file descriptor 1) points at stderr while it runs, so a plugin's ``print``
never lands in ``--json`` output, and any ``BaseException`` it raises (``SystemExit``, a
``KeyboardInterrupt`` it raised itself) becomes a ``PluginFailure`` with a one-line reason.
What no ``except`` can stop - ``os._exit``, a hang, a segfault - is the dry run's job
(``discovery.dryrun``): such a plugin is never imported in-process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from sail_types import SaibenchError

T = TypeVar("T")

# frames in saibench's own packages or importlib say nothing about where a plugin went wrong
_OURS = (str(Path(__file__).resolve().parents[2] / "sail_types"), str(Path(__file__).resolve().parents[1]))


class PluginFailure(SaibenchError):
    """Plugin code raised (anything, ``SystemExit`` included) or did not return in time.

    Args:
        reason: what happened and where, on one line.
        detail: what the plugin code raised, without the call that raised it
            (``Type: message (at file:line)``); ``reason`` when not given.
    """

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = reason if detail is None else detail


def reason(exc: BaseException) -> str:
    """``Type: message (at file:line)``, the line being the deepest one in plugin code."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    theirs = [f for f in frames if not f.filename.startswith(_OURS) and not f.filename.startswith("<")]
    frame = (theirs or frames)[-1:]
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()
    return f"{text}{where}"


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send everything written to stdout, by Python or by C code on fd 1, to stderr."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved: int | None = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # fd 1 or 2 closed: Python-level redirection is all there is to do
        saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


_user_interrupted = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _user_interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def _telling_ctrl_c_apart() -> Iterator[None]:
    """Mark a real Ctrl-C, so that it still stops the command while a ``KeyboardInterrupt``
    a plugin raises itself only breaks that plugin."""
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is None or previous == signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def guard(what: str) -> Iterator[None]:
    """Run plugin code with stdout sent to stderr; whatever it raises becomes ``PluginFailure``.

    Args:
        what: the call, for the reason: ``"saibench_modules()"`` gives
            ``"saibench_modules() raised SystemExit: 3 (at plugin.py:7)"``.

    Raises:
        PluginFailure: the plugin code raised; a ``SaibenchError`` it raised (such as
            ``InvalidSignature``) keeps its own message.
    """
    _user_interrupted.clear()
    try:
        with quiet_stdout(), _telling_ctrl_c_apart():
            yield
    except KeyboardInterrupt:
        if _user_interrupted.is_set():
            raise
        raise PluginFailure(f"{what} raised KeyboardInterrupt", "KeyboardInterrupt") from None
    except SaibenchError:  # PluginFailure included: a nested guard's keeps its own reason
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit from plugin code must not end the command
        detail = reason(exc)
        raise PluginFailure(f"{what} raised {detail}", detail) from None


def call_within(fn: Callable[[], T], seconds: float | None, what: str) -> T:
    """``fn()``, given up on after ``seconds`` (``None``: no limit).

    A Python thread cannot be killed: one that hangs is left behind as a daemon, which does
    not keep the process alive. The dry run, which can kill, catches most hangs before this.

    Raises:
        PluginFailure: ``fn`` did not return in time.
    """
    if seconds is None:
        return fn()
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            error.append(exc)

    worker = threading.Thread(target=target, name=f"saibench {what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise PluginFailure(f"{what} did not return within {seconds:g} s")
    if error:
        raise error[0]
    return result[0]  # type: ignore[no-any-return]
