"""Prepared datasets (``sail_types.DataSource``): made once into the user cache, verified.

Layout: ``<root>/<name>/<size>/`` holds the files ``prepare`` wrote and ``manifest.json``
(the source's version, parameters and licence, each file's SHA-256 and bytes, the seconds
preparation took). A preparation runs under a lock (``<root>/<name>/.<size>.lock``), into
a temporary folder beside the final one that is renamed into place at the end: a reader
never sees half a dataset, an interrupted preparation leaves only a temporary folder that
the next one removes, and two runners preparing one dataset at once prepare it once.

``SAIBENCH_DATASETS`` chooses another root folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import platformdirs

from sail_types import DataSource

from ..errors import UsageError
from .checksum import file_sha256

MANIFEST = "manifest.json"
HEADROOM = 1.1  # free space asked for, as a multiple of the declared size


def root() -> Path:
    """Where prepared datasets live."""
    where = os.environ.get("SAIBENCH_DATASETS")
    return Path(where) if where else Path(platformdirs.user_cache_dir("saibench")) / "datasets"


def folder(source: DataSource, size: str) -> Path:
    return root() / source.name / size


def manifest(source: DataSource, size: str) -> dict[str, Any] | None:
    """The manifest of a prepared size, or ``None`` where there is none (or it is unreadable)."""
    try:
        found = json.loads((folder(source, size) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def state(source: DataSource, size: str) -> str:
    """``"prepared"``, ``"outdated"`` (by another version of its source) or ``"missing"``."""
    found = manifest(source, size)
    if found is None:
        return "missing"
    return "prepared" if found.get("version") == source.version else "outdated"


def _check_size(source: DataSource, size: str) -> None:
    if size not in source.sizes:
        raise UsageError(f"dataset {source.name!r} has no size {size!r}; known sizes: {', '.join(source.sizes)}")


def _check_space(source: DataSource, size: str, where: Path) -> None:
    needed = source.sizes[size].bytes * HEADROOM
    free = shutil.disk_usage(where).free
    if free < needed:
        raise UsageError(f"dataset {source.name!r} ({size}) needs {needed / 2**20:,.0f} MiB in {where} but only "
                         f"{free / 2**20:,.0f} MiB is free; free some space or set SAIBENCH_DATASETS to a larger disk")


def prepare(source: DataSource, size: str = "quick", *, force: bool = False,
            progress: Callable[[float, str], None] | None = None) -> Path:
    """Prepare ``size`` of ``source`` (unless it is prepared already and not ``force``) and
    return its folder."""
    _check_size(source, size)
    final = folder(source, size)
    final.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(final.parent / f".{size}.lock")):
        if not force and state(source, size) == "prepared":
            return final
        for stale in final.parent.glob(f".{size}.tmp-*"):  # an interrupted preparation's
            shutil.rmtree(stale, ignore_errors=True)
        _check_space(source, size, final.parent)
        temporary = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{size}.tmp-"))
        try:
            start = time.perf_counter()
            source.prepare(temporary, size, progress or (lambda fraction, what: None))
            files = {p.name: {"sha256": file_sha256(p), "bytes": p.stat().st_size} for p in sorted(temporary.iterdir()) if p.is_file()}
            record = {"name": source.name, "size": size, "version": source.version, "licence": source.licence,
                      "source": source.source, "parameters": dict(source.parameters), "files": files,
                      "seconds": round(time.perf_counter() - start, 3)}
            (temporary / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True, default=repr))
            if final.exists():
                shutil.rmtree(final)
            os.rename(temporary, final)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return final


def verify(source: DataSource, size: str) -> list[str]:
    """What differs between a prepared size and its manifest, one line per file (empty:
    every file is as prepared)."""
    found = manifest(source, size)
    where = folder(source, size)
    if found is None:
        return [f"{where}: not prepared"]
    problems = []
    for name, expected in found.get("files", {}).items():
        path = where / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != expected["bytes"] or file_sha256(path) != expected["sha256"]:
            problems.append(f"{path}: differs from its manifest (SHA-256 {expected['sha256'][:12]}...)")
    return problems


def remove(source: DataSource) -> bool:
    """Remove every prepared size of ``source``; whether there was any."""
    where = root() / source.name
    existed = where.exists()
    shutil.rmtree(where, ignore_errors=True)
    return existed


def opened(source: DataSource, size: str) -> Mapping[str, np.ndarray[Any, Any]]:
    """``DataSource.open``: the verified arrays of ``size``, prepared first where needed."""
    _check_size(source, size)
    if state(source, size) != "prepared":
        prepare(source, size)
    problems = verify(source, size)
    if problems:
        raise UsageError(f"dataset {source.name!r} ({size}) is damaged: {'; '.join(problems)}; prepare it again with "
                         f"`saibench data prepare {source.name} --size {size} --force`")
    return {p.stem: np.load(p, mmap_mode="r", allow_pickle=False) for p in sorted(folder(source, size).glob("*.npy"))}
