"""The dry run: every plugin is loaded once in a child process before it is loaded in-process.

``guard`` catches what a plugin raises; it cannot catch ``os._exit``, a hang or a segfault
at import, in a hook, in a probe or in a module it asks pods to preload. So a plugin is first
loaded - imported, registered, its hooks called, its modules described, its preloads
imported - in a child, under a time limit per plugin (``SAIBENCH_PLUGIN_TIMEOUT`` seconds,
10 by default). One that exits, crashes or runs past the limit is listed as broken with the
reason and never imported in-process; the child is restarted for the plugins after it.

Verdicts are cached in the user cache dir, keyed by the plugin's entry point, distribution
and version, the modification times and sizes of its package's files, the installed
distributions and the interpreter: a healthy plugin costs one ``stat`` per source file on
later commands, and editing or upgrading anything vets it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
import platformdirs

from sail_types import SaibenchError

TIMEOUT_ENV = "SAIBENCH_PLUGIN_TIMEOUT"
DEFAULT_TIMEOUT = 10.0
STARTUP_SECONDS = 60.0  # the child's own imports (sail_types, numpy), before any plugin
_CACHE_VERSION = 1
_CACHE_ENTRIES = 512


@attrs.frozen
class Candidate:
    """An entry point to vet: its name and ``module:attr`` value, and where it comes from."""

    name: str
    value: str
    distribution: str
    version: str


@attrs.frozen
class Verdict:
    """What the dry run found: ``reason`` is ``None`` for a plugin that loads and returns."""

    reason: str | None
    seconds: float
    limit: float

    def holds(self, limit: float) -> bool:
        """Whether this verdict stands under ``limit``: a plugin that finished stays healthy
        while it finished within the limit; one that ran past a limit stays broken under any
        limit no longer than that one; exits and crashes stand whatever the limit."""
        if self.reason is None:
            return self.seconds <= limit
        if self.seconds > self.limit:  # ran past self.limit
            return limit <= self.limit
        return True


def timeout() -> float:
    """The time limit per plugin, from ``SAIBENCH_PLUGIN_TIMEOUT``.

    Raises:
        SaibenchError: the variable is set to something else than a positive number.
    """
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise SaibenchError(f"{TIMEOUT_ENV}={raw!r}: the time limit per plugin is a positive number of seconds, "
                            f"e.g. {TIMEOUT_ENV}=30 (default {DEFAULT_TIMEOUT:g})")
    return seconds


def _sources(value: str) -> list[str]:
    """The files of the package an entry point lives in, found without importing it."""
    top = value.partition(":")[0].strip().partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if not spec.submodule_search_locations:
        return [spec.origin] if spec.origin else []
    found: list[str] = []
    for location in spec.submodule_search_locations:
        for root, dirs, files in os.walk(location):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            found += [os.path.join(root, f) for f in sorted(files) if f.endswith((".py", ".so", ".pyd", ".pth"))]
    return found


def key(candidate: Candidate, environment: str) -> str:
    """The cache key of ``candidate``'s verdict in ``environment`` (see ``environment``)."""
    stamps = []
    for path in _sources(candidate.value):
        with contextlib.suppress(OSError):
            st = os.stat(path)
            stamps.append(f"{path}:{st.st_mtime_ns}:{st.st_size}")
    parts = [candidate.name, candidate.value, candidate.distribution, candidate.version, environment, *stamps]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def environment(distributions: Iterable[tuple[str, str]]) -> str:
    """A digest of the interpreter, ``sys.path`` and the installed (name, version) pairs:
    installing or upgrading any package (a plugin's dependency, say) vets plugins again."""
    parts = [sys.executable, sys.version, *sys.path, *sorted(f"{n}=={v}" for n, v in distributions)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _cache_path() -> Path:
    return Path(platformdirs.user_cache_dir("saibench")) / "plugin-verdicts.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data.get("verdicts", {}) if isinstance(data, dict) and data.get("version") == _CACHE_VERSION else {}


def _write_cache(new: dict[str, Verdict]) -> None:
    """Merge ``new`` into the cache file, atomically (concurrent commands each write a whole file)."""
    merged = _read_cache()
    merged.update({k: attrs.asdict(v) for k, v in new.items()})
    kept = dict(list(merged.items())[-_CACHE_ENTRIES:])
    path = _cache_path()
    with contextlib.suppress(OSError):  # a read-only cache dir costs a dry run per command, nothing worse
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plugin-verdicts.")
        with os.fdopen(fd, "w") as f:
            json.dump({"version": _CACHE_VERSION, "verdicts": kept}, f)
        os.replace(tmp, path)


def _cached(entry: object) -> Verdict | None:
    if not isinstance(entry, dict):
        return None
    try:
        return Verdict(entry["reason"], float(entry["seconds"]), float(entry["limit"]))
    except (KeyError, TypeError, ValueError):
        return None


def vet(candidates: Sequence[Candidate], env: str) -> dict[str, str]:
    """Dry-run the candidates not vetted yet; the reason of each that is fatal, by entry-point name."""
    limit = timeout()
    cache = _read_cache()
    keys = {c.name: key(c, env) for c in candidates}
    verdicts: dict[str, Verdict] = {}
    for c in candidates:
        found = _cached(cache.get(keys[c.name]))
        if found is not None and found.holds(limit):
            verdicts[c.name] = found
    pending = [c for c in candidates if c.name not in verdicts]
    if pending:
        fresh = _dry_run(pending, limit)
        verdicts.update(fresh)
        _write_cache({keys[name]: v for name, v in fresh.items()})
    return {name: v.reason for name, v in verdicts.items() if v.reason is not None}


def _dry_run(pending: Sequence[Candidate], limit: float) -> dict[str, Verdict]:
    """Load ``pending`` in children, one after another; a child that dies or hangs is
    replaced by a new one for the plugins after the one it was loading."""
    verdicts: dict[str, Verdict] = {}
    queue = list(pending)
    while queue:
        done = _child_run(queue, limit)
        if done is None:  # the child could not even start: vet nothing rather than break everything
            return verdicts
        verdicts.update(done)
        queue = [c for c in queue if c.name not in verdicts]
    return verdicts


def _died(proc: subprocess.Popen[bytes]) -> str:
    rc = proc.wait()
    if rc < 0:
        with contextlib.suppress(ValueError):
            return f"crashed with signal {signal.Signals(-rc).name}"
        return f"crashed with signal {-rc}"
    return f"ended the process with exit status {rc}"


def _tail(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().decode(errors="replace").splitlines() if line.strip()]
    return f"; last output: {lines[-1][:300]}" if lines else ""


def _child_run(queue: Sequence[Candidate], limit: float) -> dict[str, Verdict] | None:
    """One child over ``queue``: a verdict for each plugin it finished, and for the one it was
    loading when it died or hung; ``None`` when it never reached the first plugin."""
    job = {"path": sys.path, "plugins": [attrs.asdict(c) for c in queue]}
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "saibench_core.discovery._child"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
        except OSError:
            pass
        verdicts: dict[str, Verdict] = {}
        current: str | None = None
        phase = "starting"
        started = time.monotonic()
        deadline = started + STARTUP_SECONDS
        buffer = b""
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not sel.select(remaining):
                        if current is None:
                            return verdicts or None
                        verdicts[current] = Verdict(
                            f"did not finish {phase} within {limit:g} s; if it is only slow, raise {TIMEOUT_ENV}",
                            time.monotonic() - started, limit)
                        return verdicts
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        if current is not None:
                            verdicts[current] = Verdict(f"{_died(proc)} while {phase}{_tail(stderr)}", time.monotonic() - started, limit)
                        elif not verdicts:
                            return None
                        return verdicts
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        try:
                            message = json.loads(line)
                        except ValueError:  # not ours: ignore it rather than misread it
                            continue
                        if "begin" in message:
                            current, phase, started = message["begin"], "importing it", time.monotonic()
                            deadline = started + limit
                        elif "phase" in message:
                            phase = message["phase"]
                        elif "end" in message and current is not None:
                            verdicts[current] = Verdict(None, time.monotonic() - started, limit)
                            current, deadline = None, time.monotonic() + STARTUP_SECONDS
            finally:
                proc.stdout.close()
                running = proc.poll() is None
                # the child, if still there, and whatever a plugin started in its session
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if running:
                    proc.wait()
