"""Partial orders: fronts by non-dominated sorting (Deb et al. 2002, NSGA-II).

A partial-order ranking (``@ranking(order="partial")`` or ``order=Pareto(...)``) compares
two configurations' median metrics: ``compare(a, b)`` is whether ``a`` dominates ``b``.
Front 1 holds the configurations no other dominates; removing them, front 2 those no other
remaining one dominates, and so on. For a strict partial order a configuration's front is
one more than the highest front among those that dominate it (the longest chain of
dominance ending at it), so a row added beside the fronts without being counted (a
reference baseline) is shown in the front it would join, and moves no one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..discovery import Descriptor
from ..discovery.contained import PluginFailure, guard
from ..errors import SaibenchError
from .values import RankingFailed

Compare = Callable[[Mapping[str, float], Mapping[str, float]], bool]


def dominance(compare: Compare, points: Sequence[Mapping[str, float]]) -> list[list[bool]]:
    """``d[i][j]``: whether point ``i`` dominates point ``j`` by ``compare`` (its value on a
    point and itself must be ``False``, and never ``True`` both ways).

    Raises:
        RankingFailed: ``compare`` raised, returned something else than a bool, or is not a
            strict partial order on these points.
    """
    try:
        with guard("the ranking's comparison"):
            matrix = [[compare(a, b) for b in points] for a in points]
    except PluginFailure as exc:
        raise RankingFailed(exc.detail) from None
    except SaibenchError as exc:
        raise RankingFailed(f"{type(exc).__name__}: {exc}") from None
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if not isinstance(value, bool):
                raise RankingFailed(f"returned {value!r} ({type(value).__name__}); a comparison returns True or False")
            if value and i == j:
                raise RankingFailed(f"is not a strict partial order: a configuration dominates itself ({dict(points[i])})")
            if value and matrix[j][i]:
                raise RankingFailed("is not a strict partial order: two configurations dominate each other "
                                    f"({dict(points[i])} and {dict(points[j])})")
    return matrix


def fronts(dominates: Sequence[Sequence[bool]]) -> list[int]:
    """Each point's front (1: no point dominates it) by non-dominated sorting of the
    dominance matrix ``dominates[i][j]`` (``i`` dominates ``j``).

    >>> fronts([[False, True, True], [False, False, True], [False, False, False]])
    [1, 2, 3]

    Raises:
        RankingFailed: the relation has a cycle (it is not transitive), so some points are
            never free of a dominating one.
    """
    left, front, k = set(range(len(dominates))), [0] * len(dominates), 0
    while left:
        k += 1
        free = {i for i in left if not any(dominates[j][i] for j in left)}
        if not free:
            raise RankingFailed("is not a partial order: its dominance has a cycle (a over b over c over a)")
        for i in free:
            front[i] = k
        left -= free
    return front


def joining(front: Sequence[int], dominated_by: Sequence[bool]) -> int:
    """The front a point joins beside points in ``front``, uncounted: one more than the
    highest front of those dominating it (``dominated_by[i]``: point ``i`` dominates it)."""
    return 1 + max((f for f, d in zip(front, dominated_by, strict=True) if d), default=0)


def caption(ranking: Descriptor) -> str:
    """``partial order: Pareto fronts over accuracy (higher better), train_time (lower
    better)``, or for another comparison, the fronts of its dominance over its metrics."""
    pareto = ranking.spec.pareto
    if pareto is None:
        return f"partial order: fronts of {ranking.name}'s dominance over {', '.join(ranking.spec.metrics)}"
    goals = ", ".join(f"{m} ({'higher' if goal == 'max' else 'lower'} better)" for m, goal in pareto.goals)
    return f"partial order: Pareto fronts over {goals}"
