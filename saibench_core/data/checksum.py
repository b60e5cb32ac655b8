"""The checksum of a problem's data, computed by saibench from the arrays themselves.

A plugin's own ``Dataset.checksum`` is a claim; this is a measurement. It covers every
fixture (train, test, and validation where the problem provides one), each array's dtype,
shape and bytes, so a changed value, order, dtype or split is a changed dataset. A
fixture's per-sample metadata (``Fixture.meta``) is data too and is hashed after its
``x`` and ``y``, key by key in sorted order; a fixture without metadata feeds exactly what
it did before metadata existed, so stored checksums stay valid. A problem's experiments
(``Dataset.experiments``) are data too: each one's function (by its qualified name) and
arrays, after the fixtures, only where there are any.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np


def _feed(digest: Any, name: str, array: Any) -> None:
    values = np.ascontiguousarray(np.asarray(array))
    digest.update(f"{name}:{values.dtype.str}:{values.shape};".encode())
    digest.update(values.tobytes())


def _feed_meta(digest: Any, name: str, array: Any) -> None:
    values = np.asarray(array)
    if values.dtype.hasobject:  # its bytes are pointers, different in every process: hash what they point to
        digest.update(f"{name}:{values.dtype.str}:{values.shape};".encode())
        digest.update("\x1f".join(map(repr, values.ravel())).encode())
    else:
        _feed(digest, name, values)


def dataset_checksum(data: Any) -> str:
    """SHA-256 (hex) over the fixtures of ``data`` (a ``sail_types.Dataset``).

    Example:
        >>> from sail_types import Dataset, Test, Train
        >>> a = Dataset(Train(np.zeros((2, 3)), np.zeros(2)), Test(np.ones((1, 3)), np.ones(1)))
        >>> b = Dataset(Train(np.zeros((2, 3)), np.zeros(2)), Test(np.ones((1, 3)), np.zeros(1)))
        >>> dataset_checksum(a) == dataset_checksum(b)
        False
    """
    digest = hashlib.sha256()
    for split in ("train", "validation", "test"):
        fixture = getattr(data, split, None)
        if fixture is None:
            continue
        _feed(digest, f"{split}.x", fixture.x)
        _feed(digest, f"{split}.y", fixture.y)
        for key in sorted(fixture.meta):
            _feed_meta(digest, f"{split}.meta[{key!r}]", fixture.meta[key])
    for name, experiment in sorted(getattr(data, "experiments", {}).items()):
        run = experiment.run
        digest.update(f"experiment {name}:{getattr(run, '__module__', '')}.{getattr(run, '__qualname__', repr(run))};".encode())
        for key in sorted(experiment.data):
            _feed_meta(digest, f"experiment {name}.data[{key!r}]", experiment.data[key])
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read a MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
