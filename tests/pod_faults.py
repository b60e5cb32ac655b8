"""Hostile work for pods (module-level, so that pods receive it by reference): runs that
start children which try to outlive them, kill their own process group or parent, and
print without bound. Every child carries ``token`` in its command line, so a test finds
the survivors with ``survivors(token)``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import psutil

SLEEP = "import time; time.sleep(3600)"
BURN = "while True: pass"
HOG = "import time; b = bytearray(100 << 20); time.sleep(3600)"


def _child(code: str, token: str, **kwargs: Any) -> None:
    subprocess.Popen([sys.executable, "-c", code, token], stdin=subprocess.DEVNULL, **kwargs)


def _daemon(token: str) -> None:
    """A classic double-forked daemon in its own session: its parent exits at once, so it is
    an orphan before any sampler sees it."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", SLEEP, token])
        os._exit(0)
    os.waitpid(pid, 0)


def spawn_children(token: str, then: str) -> dict[str, Any]:
    """Start a sleeper, a CPU burner, a memory hog in its own session and a daemon; then
    ``"hang"`` or ``"return"``."""
    _child(SLEEP, token)
    _child(BURN, token)
    _child(HOG, token, start_new_session=True)
    _daemon(token)
    print(f"started 4 children for {token}", flush=True)
    if then == "hang":
        time.sleep(3600)
    while len(survivors(token)) < 4:  # return once all four run
        time.sleep(0.05)
    return {}


def survivors(token: str) -> list[psutil.Process]:
    """The live processes whose command line carries ``token`` (zombies are dead)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if token in (process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def wait_until_gone(token: str, bound: float = 10.0) -> list[psutil.Process]:
    """Survivors still there after ``bound`` seconds (a liveness bound: SIGKILL is
    delivered at once, but a dying process takes a moment to leave the table)."""
    deadline = time.monotonic() + bound
    while (left := survivors(token)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def killpg_self(_: str) -> dict[str, Any]:
    """``os.killpg(0, SIGTERM)``: before pods had sessions of their own, this killed the runner."""
    os.killpg(0, signal.SIGTERM)
    time.sleep(60)
    return {}


def kill_parent(_: str) -> dict[str, Any]:
    """``os.kill(os.getppid(), SIGKILL)``: the pod's parent is its keeper, so this ends the run."""
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(60)
    return {}


def kill_fork_server(_: str) -> dict[str, Any]:
    """SIGKILL the fork server every pod is forked from (the keeper's parent), then finish."""
    psutil.Process().parent().parent().kill()
    return {"killed": "fork server"}


def nap(seconds: float) -> dict[str, Any]:
    """A healthy run beside a hostile one."""
    time.sleep(seconds)
    return {"slept": seconds}


def flood(megabytes: int) -> dict[str, Any]:
    """Print ``megabytes`` MB of lines, one 50 MB line, then raise with a 10 MB message."""
    line = "x" * 999 + "\n"
    block = line * 1000
    for _ in range(megabytes):
        sys.stdout.write(block)
    sys.stdout.write("y" * 50_000_000 + "\n")
    sys.stdout.write("the last words\n")
    sys.stdout.flush()
    raise ValueError("z" * 10_000_000)


def huge_result(megabytes: int) -> dict[str, Any]:
    """A result larger than the runner accepts."""
    return {"blob": "r" * (megabytes << 20)}
