"""Batching: work of one kind shares a pod, while ``-j N`` pods still run at once.

Starting a pod (fork, imports, JAX's backend, compilation-cache reads) costs more than
loading most datasets or training a small model, so a campaign gives a pod several pieces
of work of one kind: the splits of one problem point (``probe``), the repetitions of one
configuration (``batch``). ``chunked`` splits such groups so that at least ``workers``
pods have work, and none gets more than ``most``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")
MOST = 16
"""The most pieces of work one pod is given."""


def grouped(items: Iterable[T], by: Callable[[T], Hashable]) -> list[list[T]]:
    """``items`` in groups of equal ``by(item)``, in order of first appearance."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(by(item), []).append(item)
    return list(groups.values())


def chunked(groups: Sequence[Sequence[T]], workers: int, most: int = MOST) -> list[list[T]]:
    """Split each group into contiguous chunks of near-equal size: a group of ``n`` of the
    ``total`` items into at least its share of the ``workers`` (``ceil(workers * n /
    total)``), so that every worker has work, and into chunks of at most ``most``.

    >>> chunked([[1, 2, 3, 4], [5]], workers=3)
    [[1, 2], [3], [4], [5]]
    >>> chunked([[1, 2, 3, 4], [5]], workers=1)
    [[1, 2, 3, 4], [5]]
    """
    total = sum(len(g) for g in groups)
    out: list[list[T]] = []
    for group in groups:
        if not group:
            continue
        parts = min(len(group), max(math.ceil(len(group) / most), math.ceil(max(workers, 1) * len(group) / total)))
        small, extra = divmod(len(group), parts)
        start = 0
        for i in range(parts):
            end = start + small + (i < extra)
            out.append(list(group[start:end]))
            start = end
    return out
