"""Datasets a plugin declares once, prepared once into the user cache and verified.

A ``DataSource`` names a dataset, says where it comes from (a simulator in the plugin, or
files shipped inside a package on the registry), its licence, and what each size holds
(``Size``: samples and bytes on disk). Its ``prepare(folder, size, progress)`` writes
NumPy ``.npy`` files into an empty folder; the engine does the rest: it writes into a
temporary folder renamed into place at the end, refuses up front when the disk lacks the
space, takes a lock so that two runners prepare a dataset once, records a SHA-256
manifest of every file, and checks it whenever the dataset is opened. A problem reads the
prepared arrays with ``source.open(size)``: memory-mapped, not copied.

Example:
    >>> import numpy as np
    >>> def make(folder, size, progress):
    ...     np.save(folder / "x.npy", np.arange(10 if size == "quick" else 1000))
    >>> ramp = DataSource("ramp", make, licence="CC0-1.0", source="generated (a ramp)",
    ...                   sizes={"quick": Size(10, 208), "full": Size(1000, 8128)})
    >>> ramp.sizes["quick"].samples
    10
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from ._errors import InvalidValue

Progress = Callable[[float, str], None]
Prepare = Callable[[Path, str, Progress], None]
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@attrs.frozen
class Size:
    """What one size of a dataset holds: ``samples`` (as the problem counts them) and
    ``bytes`` on disk once prepared (the engine checks the disk has room for it)."""

    samples: int
    bytes: int


def _check_name(_: object, __: object, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidValue(f"DataSource({name!r})", "a dataset's name is lower-case letters, digits and '_', e.g. 'earthquake_catalogue'")


def _check_sizes(source: DataSource, _: object, sizes: Mapping[str, Size]) -> None:
    if "quick" not in sizes or not all(isinstance(s, Size) for s in sizes.values()):
        raise InvalidValue(f"DataSource({source.name!r}, sizes={dict(sizes)!r})",
                           "sizes maps 'quick' (and 'full', ...) to Size(samples, bytes)")


@attrs.frozen(eq=False)
class DataSource:
    """A dataset: its ``name``, the function that ``prepare``\\ s it, its ``licence`` (an
    SPDX identifier or a sentence), its ``source``, its ``sizes`` (``"quick"`` at least),
    a ``version`` to bump when ``prepare`` makes other files, and ``parameters`` shown
    beside it (e.g. the simulator's settings)."""

    name: str = attrs.field(validator=_check_name)
    prepare: Prepare
    licence: str
    source: str
    sizes: Mapping[str, Size] = attrs.field(validator=_check_sizes)
    version: str = "1"
    parameters: Mapping[str, Any] = attrs.field(factory=dict)

    def open(self, size: str = "quick") -> Mapping[str, NDArray[Any]]:
        """The prepared arrays of ``size`` by file stem, memory-mapped read-only; prepared
        first if they are not yet (needs saibench's engine, ``saibench_core``).

        Raises:
            InvalidValue: an unknown size.
            SaibenchError: a prepared file that differs from its manifest (it names the
                file and says to run ``saibench data prepare NAME --force``).
        """
        if size not in self.sizes:
            raise InvalidValue(f"dataset {self.name!r}, size {size!r}", f"known sizes: {', '.join(self.sizes)}")
        prepared: Callable[[DataSource, str], Mapping[str, np.ndarray[Any, Any]]] = importlib.import_module(
            "saibench_core.data.prepared").opened
        return prepared(self, size)
