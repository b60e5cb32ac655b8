"""Checks of command-line input made before any work starts (planning, training, reading).

Each failure is a ``UsageError`` whose message names the option, what is wrong with its
value and how to fix it; the CLI prints it on one line with exit status 2. Without these a
bad value surfaced late (an export path after the database was read, an unwritable weights
folder after every run had trained) or never (``--timeout nan`` meant no timeout).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from .errors import UsageError

SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
CONNECT_TIMEOUT = 10.0  # seconds: a scheduler answers a handshake at once; an idle one still does


class FiniteFloat(click.ParamType[float]):
    """A float option that must be finite and above ``minimum`` (``open``: strictly).

    ``click.FloatRange`` lets ``nan`` through, since every comparison with it is false.
    """

    name = "number"

    def __init__(self, minimum: float, *, open: bool = False) -> None:
        self.minimum, self.open = minimum, open

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """``value`` as a float; fails (click's usage error) unless finite and in range."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        bound = f"{'>' if self.open else '>='} {self.minimum:g}"
        if not math.isfinite(number) or number < self.minimum or (self.open and number == self.minimum):
            self.fail(f"{value!r} is not a finite number {bound}", param, ctx)
        return number


def scheduler_address(address: str) -> str:
    """``address`` once a Dask scheduler has answered a handshake there.

    Parsed first (scheme, host, port), then connected to with a time limit: a port that
    accepts connections but does not speak Dask's protocol (a web server, the dashboard)
    otherwise holds ``distributed.Client`` for minutes.

    Raises:
        UsageError: the address is malformed, unreachable or not a scheduler's.
    """
    fix = "give the scheduler's address, e.g. tcp://10.0.0.1:8786"
    parts = urlsplit(address)
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise UsageError(f"--address {address!r} is not a Dask scheduler address (scheme://host:port with scheme "
                         f"one of {', '.join(SCHEMES)}); {fix}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise UsageError(f"--address {address!r}: {exc}; {fix}") from None
    if not host or parts.path not in ("", "/") and parts.scheme != "inproc":
        raise UsageError(f"--address {address!r} names no host or has a path; {fix}")
    if parts.scheme in ("tcp", "tls", "ws", "wss"):
        try:
            socket.create_connection((host, port or 8786), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}; "
                             f"check --address and that the scheduler runs") from None
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError("the dask executor needs dask.distributed: pip install 'saibench[dask]'") from None
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its comm logs a foreign peer's bytes; the error says what went wrong
    try:
        asyncio.run(_handshake(address))
    except TimeoutError:
        raise UsageError(f"--address {address}: something listens there but did not answer as a Dask scheduler within "
                         f"{CONNECT_TIMEOUT:g} s (a web server? the dashboard is not the scheduler port); {fix}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a foreign service's bytes make of the handshake
        raise UsageError(f"--address {address} did not answer as a Dask scheduler ({type(exc).__name__}: {exc}); "
                         f"{fix}") from None
    finally:
        quiet.setLevel(level)
    return address


async def _handshake(address: str) -> None:
    from distributed.comm.core import connect
    from distributed.security import Security

    # connect's own timeout covers reaching the port, not reading the peer's handshake
    security: Any = Security()  # type: ignore[no-untyped-call]
    handshake = connect(address, timeout=CONNECT_TIMEOUT, **security.get_connection_args("client"))  # type: ignore[no-untyped-call]
    comm = await asyncio.wait_for(handshake, CONNECT_TIMEOUT)
    await comm.close()


def output_file(path: Path, option: str) -> Path:
    """``path`` once a file can be written there (probed, nothing left behind).

    Raises:
        UsageError: its folder is missing, it is a folder, or it cannot be written.
    """
    where = f"{option} {str(path)!r}"
    if path.is_dir():
        raise UsageError(f"{where} is a directory; give a file name in it, e.g. {path / 'runs.csv'}")
    if not path.parent.is_dir():
        missing = "is not a directory" if path.parent.exists() else "does not exist"
        raise UsageError(f"{where}: the folder {str(path.parent)!r} {missing}; create it or write elsewhere")
    try:
        if path.exists():
            with path.open("ab"):  # appends nothing, truncates nothing
                pass
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            path.unlink()
    except OSError as exc:
        raise UsageError(f"{where} cannot be written ({exc.strerror or exc}); choose a writable path") from None
    return path


def weights_dir(path: Path) -> Path:
    """``path``, created if need be, once a file can be written in it.

    Raises:
        UsageError: it is a file, or cannot be created or written.
    """
    where = f"--save-weights {str(path)!r}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".saibench-probe-")
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise UsageError(f"{where} is a file, not a directory; give a directory for the .npz files") from None
    except OSError as exc:
        raise UsageError(f"{where} cannot be created or written ({exc.strerror or exc}); choose a writable directory") from None
    return path


def weights_file(path: Path) -> Path:
    """``path`` once it reads as a weights file saibench wrote: an ``.npz`` of numeric
    arrays named by their parameter-tree paths (see ``compile.weights``).

    Raises:
        UsageError: it is not one.
    """
    import numpy as np

    def bad(why: str) -> UsageError:
        return UsageError(f"--init-weights {str(path)!r} is not a weights file saibench wrote ({why}); give an .npz "
                          "that `saibench run --save-weights DIR` wrote (its path is in the run's details)")

    with path.open("rb") as f:
        if f.read(4) != b"PK\x03\x04":  # numpy reads any other file as a refused pickle, which misleads
            raise bad("not an .npz: no zip header")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy's many ways of not reading a file
        raise bad(f"{type(exc).__name__}: {exc}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise bad("a single .npy array, not an .npz")
    with loaded:
        if not loaded.files:
            raise bad("no arrays in it")
        for name in loaded.files:
            if not name.startswith(("[", ".")):
                raise bad(f"array {name!r} is not named by a parameter path such as \"['w']\"")
            try:
                kind = loaded[name].dtype.kind
            except Exception as exc:  # noqa: BLE001 - a damaged member
                raise bad(f"array {name!r}: {type(exc).__name__}: {exc}") from None
            if kind not in "biufc":
                raise bad(f"array {name!r} holds {kind!r} values, not numbers")
    return path
