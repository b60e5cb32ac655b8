"""Installing a throw-away plugin for a test: a module and its dist-info on a new path."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from saibench_core.discovery import Catalog, load_catalog


def install(tmp_path: Path, name: str, source: str) -> dict[str, str]:
    """Write module ``saibench_<name>`` with an entry point ``<name>``; return the
    environment (``PYTHONPATH``, a private cache) under which saibench sees it."""
    dist = tmp_path / f"saibench_{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: saibench-{name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[saibench.plugins]\n{name} = saibench_{name}\n")
    (tmp_path / f"saibench_{name}.py").write_text(source)
    return {**os.environ, "PYTHONPATH": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}


@contextlib.contextmanager
def installed_catalog(where: Path, name: str, source: str) -> Iterator[Catalog]:
    """Install plugin ``name`` from ``source`` under ``where``, put it on ``sys.path`` (so
    pods forked from this process discover it too) and yield the catalog with it."""
    install(where, name, source)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(where))
        yield load_catalog()
