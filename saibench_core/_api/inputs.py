"""Checks of the API's arguments made before any work starts (planning, training, reading).

The CLI's options reach these same checks through the API, so both raise the same
``InvalidInput``: it names the input, what is wrong with its value and how to fix it, and
the CLI prints it on one line, with exit status 2, under the option's name. Without these a
bad value surfaced late (an export path after the database was read, an unwritable weights
folder after every run had trained) or never (a timeout of NaN meant no timeout).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInput, MissingExtra, UsageError
from ..errors import Part as P

SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
CONNECT_TIMEOUT = 10.0  # seconds: a scheduler answers a handshake at once; an idle one still does


MP_MAIN = "__mp_main__"  # the name multiprocessing runs the main script under in a child it starts


def outside_main_import(function: str) -> None:
    """Refuse to plan or run from the main script's top level while a pod imports it.

    Pods start as multiprocessing's children do, by importing the main script; a script
    that calls ``run`` at its top level, not under ``if __name__ == "__main__":``, would
    start a campaign inside every pod (multiprocessing then fails with a bootstrapping
    error that names neither saibench nor the fix).

    Raises:
        UsageError: called from the top level of the main script being imported by a pod.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == MP_MAIN:
            script = frame.f_globals.get("__file__", "the main script")
            raise UsageError(f"saibench_core.{function}() was called at the top level of {script} while a run's pod "
                             "was importing it (pods start by importing the main script, as multiprocessing's "
                             "processes do); put the calls under `if __name__ == \"__main__\":`")
        frame = frame.f_back  # type: ignore[assignment]
    return None


def integer(parameter: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` once it is an integer in ``[minimum, maximum]``.

    Raises:
        InvalidInput: it is not (a bool is not an integer here).
    """
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum is not None and value > maximum):
        raise InvalidInput(parameter, value, P.WHERE, f" is not an integer {bound}; give one that is")
    return value


def finite_bound(minimum: float, *, open: bool = False) -> str:
    """The bound of ``finite_above`` as messages state it: ``">= 1"``, ``"> 0"``."""
    return f"{'>' if open else '>='} {minimum:g}"


def finite_above(number: float, minimum: float, *, open: bool = False) -> bool:
    """Whether ``number`` is finite and above ``minimum`` (``open``: strictly); NaN is not."""
    return math.isfinite(number) and (number > minimum if open else number >= minimum)


def finite(parameter: str, value: object, minimum: float, *, open: bool = False) -> float:
    """``value`` as a float once it is finite and above ``minimum`` (``open``: strictly).

    Raises:
        InvalidInput: it is not a number, not finite (NaN would disable the limit) or too small.
    """
    bound = finite_bound(minimum, open=open)
    try:
        number = float(value)  # type: ignore[arg-type]  # anything float() takes; the rest is the error below
    except (TypeError, ValueError):
        raise InvalidInput(parameter, value, P.WHERE, f" is not a number; give a finite number {bound}") from None
    if isinstance(value, bool) or not finite_above(number, minimum, open=open):
        raise InvalidInput(parameter, value, P.WHERE, f" is not a finite number {bound}; give one that is")
    return number


def choice(parameter: str, value: object, choices: Sequence[str]) -> str:
    """``value`` once it is one of ``choices``.

    Raises:
        InvalidInput: it is not.
    """
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(parameter, value, P.WHERE, f" is not one of {', '.join(map(repr, choices))}; choose one")
    return value


def globs(parameter: str, value: str | Sequence[str]) -> tuple[str, ...]:
    """Glob patterns: one (a string) or several.

    Raises:
        InvalidInput: a pattern is not a string.
    """
    patterns = (value,) if isinstance(value, str) else tuple(value)
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise InvalidInput(parameter, value, P.WHERE, " is not a glob pattern or a list of them, e.g. 'mlp*'")
    return patterns


def grid(value: object) -> dict[str, tuple[Any, ...]]:
    """Hyperparameter grids by ``"MODULE.PARAMETER"``, each a list of JSON values.

    Raises:
        InvalidInput: not such a mapping.
    """
    import json

    fix = " is not a mapping of 'MODULE.PARAMETER' to a list of values, e.g. {'md_bulk.temperature': [300.0, 900.0]}"
    if not isinstance(value, Mapping):
        raise InvalidInput("grid", value, P.WHERE, fix)
    out: dict[str, tuple[Any, ...]] = {}
    for key, values in value.items():
        if not isinstance(key, str) or isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise InvalidInput("grid", value, P.WHERE, fix)
        try:
            json.dumps(list(values))
        except (TypeError, ValueError):
            raise InvalidInput("grid", value, P.WHERE, f"[{key!r}] holds a value that is not a number, string, boolean or "
                               "null; give those only") from None
        out[key] = tuple(values)
    return out


def scheduler_address(address: str) -> str:
    """``address`` once a Dask scheduler has answered a handshake there.

    Parsed first (scheme, host, port), then connected to with a time limit: a port that
    accepts connections but does not speak Dask's protocol (a web server, the dashboard)
    otherwise holds ``distributed.Client`` for minutes.

    Raises:
        InvalidInput: the address is malformed, unreachable or not a scheduler's.
        MissingExtra: dask.distributed is not installed.
    """
    fix = "give the scheduler's address, e.g. tcp://10.0.0.1:8786"
    parts = urlsplit(address)
    if parts.scheme not in SCHEMES or not parts.netloc:
        raise InvalidInput("address", address, P.WHERE, " is not a Dask scheduler address (scheme://host:port with "
                           f"scheme one of {', '.join(SCHEMES)}); {fix}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidInput("address", address, P.WHERE, f": {exc}; {fix}") from None
    if not host or parts.path not in ("", "/") and parts.scheme != "inproc":
        raise InvalidInput("address", address, P.WHERE, f" names no host or has a path; {fix}")
    if parts.scheme in ("tcp", "tls", "ws", "wss"):
        try:
            socket.create_connection((host, port or 8786), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise InvalidInput("address", address, "cannot reach the Dask scheduler at ", P.VALUE,
                               f": {exc.strerror or exc}; check ", P.NAME, " and that the scheduler runs") from None
    _handshake_quietly(address, fix)
    return address


def _handshake_quietly(address: str, fix: str) -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise MissingExtra("the dask executor", "dask.distributed", "dask") from None
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its comm logs a foreign peer's bytes; the error says what went wrong
    try:
        asyncio.run(_handshake(address))
    except TimeoutError:
        raise InvalidInput("address", address, P.NAME, " ", P.VALUE, ": something listens there but did not answer as a "
                           f"Dask scheduler within {CONNECT_TIMEOUT:g} s (a web server? the dashboard is not the "
                           f"scheduler port); {fix}") from None
    except Exception as exc:  # noqa: BLE001 - whatever a foreign service's bytes make of the handshake
        raise InvalidInput("address", address, P.NAME, " ", P.VALUE, " did not answer as a Dask scheduler "
                           f"({type(exc).__name__}: {exc}); {fix}") from None
    finally:
        quiet.setLevel(level)


async def _handshake(address: str) -> None:
    from distributed.comm.core import connect
    from distributed.security import Security

    # connect's own timeout covers reaching the port, not reading the peer's handshake
    security: Any = Security()  # type: ignore[no-untyped-call]
    handshake = connect(address, timeout=CONNECT_TIMEOUT, **security.get_connection_args("client"))  # type: ignore[no-untyped-call]
    comm = await asyncio.wait_for(handshake, CONNECT_TIMEOUT)
    await comm.close()


def output_file(path: Path, parameter: str = "output") -> Path:
    """``path`` once a file can be written there (probed, nothing left behind).

    Raises:
        InvalidInput: its folder is missing, it is a folder, or it cannot be written.
    """
    shown = str(path)
    if path.is_dir():
        raise InvalidInput(parameter, shown, P.WHERE, f" is a directory; give a file name in it, e.g. {path / 'runs.csv'}")
    if not path.parent.is_dir():
        missing = "is not a directory" if path.parent.exists() else "does not exist"
        raise InvalidInput(parameter, shown, P.WHERE, f": the folder {str(path.parent)!r} {missing}; create it or write elsewhere")
    try:
        if path.exists():
            with path.open("ab"):  # appends nothing, truncates nothing
                pass
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            path.unlink()
    except OSError as exc:
        raise InvalidInput(parameter, shown, P.WHERE, f" cannot be written ({exc.strerror or exc}); choose a writable path") from None
    return path


def weights_dir(path: Path) -> Path:
    """``path``, created if need be, once a file can be written in it.

    Raises:
        InvalidInput: it is a file, or cannot be created or written.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".saibench-probe-")
        os.close(fd)
        os.unlink(probe)
    except FileExistsError:
        raise InvalidInput("save_weights", str(path), P.WHERE, " is a file, not a directory; give a directory for the "
                           ".npz files") from None
    except OSError as exc:
        raise InvalidInput("save_weights", str(path), P.WHERE, f" cannot be created or written ({exc.strerror or exc}); "
                           "choose a writable directory") from None
    return path


def weights_file(path: Path) -> Path:
    """``path`` once it reads as a weights file saibench wrote: an ``.npz`` of numeric
    arrays named by their parameter-tree paths (see ``compile.weights``).

    Raises:
        InvalidInput: it is not one.
    """
    import numpy as np

    def bad(why: str) -> UsageError:
        return InvalidInput("init_weights", str(path), P.WHERE, f" is not a weights file saibench wrote ({why}); give an "
                            ".npz that `saibench run --save-weights DIR` wrote (its path is in the run's details)")

    if not path.is_file():
        raise bad("no such file" if not path.exists() else "not a file")
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
