"""Fingerprints of the code and libraries that decide a run's result, for its store key.

A module's result depends on more than its function: on the helpers and constants of its
package, on the engine that compiles, trains and evaluates it, on the numerical libraries,
and on every plugin loaded beside it (a plugin may monkeypatch NumPy at import). Each
fingerprint here is one part of the run key (see ``saibench_core.execute.key``).

Source trees are hashed by content, once per tree per process (``functools.cache``):
a campaign asks for the same few packages thousands of times. ``forget()`` drops the
memo, for tests and for a long-lived process that upgrades code under itself.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import site
import sys
import sysconfig
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import saibench_core
import sail_types

from ..discovery import Catalog

# The engine parts a pod executes to turn a run into numbers. Everything else in the engine
# (planner, discovery, cli, rank, report, results) decides *which* runs exist or how they
# are shown, never a run's numbers, so editing it keeps stored runs. planner/compose.py is
# the exception: the pod calls its ``build`` to assemble the model from its filled slots.
# execute/ counts but for the modules that only schedule, contain and key pods, so that a
# helper the pod grows later is keyed by default. fit/ and experiments/ are the rooms the
# design plans for methods and fixtures; they count as soon as they exist.
ENGINE_SOURCES: tuple[tuple[ModuleType, str, tuple[str, ...]], ...] = (
    (sail_types, ".", ()),
    (saibench_core, "compile", ()),
    (saibench_core, "data", ()),
    (saibench_core, "execute", ("__init__.py", "batch.py", "batching.py", "blame.py", "campaign.py", "executors.py", "fingerprint.py", "isolate.py", "key.py",
                                "limits.py", "logcap.py", "warm.py")),
    (saibench_core, "fit", ()),
    (saibench_core, "experiments", ()),
    (saibench_core, "planner/compose.py", ()),
)
LIBRARIES = ("jax", "jaxlib", "optax", "numpy")
_SKIPPED_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".git"}


def forget() -> None:
    """Drop every memoized fingerprint, so that the next key re-reads sources and versions."""
    tree.cache_clear()
    _source.cache_clear()
    installed.cache_clear()


@functools.cache
def tree(path: str, skip: tuple[str, ...] = ()) -> str:
    """SHA-256 (hex) of a source file, or of every file under a directory (by relative
    path and content; bytecode caches and the relative paths in ``skip`` left out);
    ``"absent"`` when ``path`` does not exist.

    Example:
        >>> tree("/no/such/place")
        'absent'
    """
    root = Path(path)
    if not root.exists():
        return "absent"
    if root.is_file():
        return hashlib.sha256(root.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)  # walk in a fixed order
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            file = Path(folder, name)
            relative = file.relative_to(root).as_posix()
            if relative in skip:
                continue
            digest.update(f"{relative}\0".encode())
            digest.update(_content(file))
    return digest.hexdigest()


def _content(file: Path) -> bytes:
    try:
        return hashlib.sha256(file.read_bytes()).digest()
    except OSError:  # a socket, a dangling link, no permission: it is not code a run imports
        return b"unreadable"


def package_root(module_name: str) -> Path | None:
    """The source a module's result depends on: the directory of the top-level package of
    ``module_name`` (the first regular package, below a namespace package), or the file
    of a single-file module; ``None`` for a module with no source on disk."""
    parts = module_name.split(".")
    for depth in range(1, len(parts) + 1):
        module = sys.modules.get(".".join(parts[:depth]))
        file = getattr(module, "__file__", None)
        if module is None or file is None:
            continue  # a namespace package: its first regular subpackage is the plugin's
        return Path(file).parent if hasattr(module, "__path__") else Path(file)
    return None


@functools.cache
def _installed_dirs() -> frozenset[Path]:
    paths = sysconfig.get_paths()
    dirs = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    return frozenset(Path(d).resolve() for d in [*dirs, *site.getsitepackages(), site.getusersitepackages()])


@functools.cache
def _source(root: str) -> str:
    path = Path(root)
    if path.is_dir() or path.parent.resolve() in _installed_dirs():
        return tree(root)
    # a single-file plugin in a folder of its own (a loose file, a PYTHONPATH entry) may
    # import helpers beside it (``from helpers import SCALE``), which no import graph shows
    siblings = "".join(f"{p.name}:{tree(str(p))};" for p in sorted(path.parent.glob("*.py")))
    return hashlib.sha256(siblings.encode()).hexdigest()


def package_source(fn: Any) -> str:
    """The fingerprint of the source that defines ``fn``: its package (see
    ``package_root``); for a single-file module outside site-packages, every ``.py`` file
    beside it; ``"no source"`` for a function no file holds (``python -c``)."""
    root = package_root(getattr(fn, "__module__", None) or "")
    return _source(str(root)) if root is not None else "no source"


@functools.cache
def installed(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def engine() -> dict[str, str | None]:
    """saibench's version and the source of each engine part that decides results."""
    parts: dict[str, str | None] = {"saibench": installed("saibench")}
    for package, relative, skip in ENGINE_SOURCES:
        base = Path(package.__file__ or ".").parent
        parts[f"{package.__name__}/{relative}"] = tree(str((base / relative).resolve()), skip)
    return parts


def libraries() -> dict[str, str | None]:
    """The versions of the numerical libraries a run computes with, and of Python."""
    return {**{name: installed(name) for name in LIBRARIES}, "python": platform.python_version()}


def plugins(catalog: Catalog) -> list[list[str]]:
    """Every plugin loaded into the process, by name, distribution and version; a plugin
    that broke is named too, since its import may have run (and patched NumPy) first."""
    loaded = sorted([p.name, p.distribution, p.version] for p in catalog.plugins)
    broken = sorted({b.plugin for b in catalog.broken})
    return loaded + [[name, "broken", ""] for name in broken]
