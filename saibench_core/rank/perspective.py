"""Perspectives: a community's leaderboards (``saibench rank --perspective chemistry``).

A ranking belongs to a field (``@ranking(field="chemistry")``; ``"general"`` when it names
none), and so does a problem (``@problem(field=...)``). A community's view is what it would
expect to read: the rankings it declared, over every problem they apply to, and the
general rankings (``by_accuracy``, ``pareto_accuracy_time``) over its own field's problems
only. Other communities' rankings are left out. Fields are glob patterns, so ``'*'`` is
everyone's view, and ``general`` names the general rankings as a community of their own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import attrs

from ..discovery import Catalog
from ..errors import UsageError

GENERAL = "general"
RULE = ("the rankings declared by that field, over every problem, and the general rankings over that field's "
        "problems only")


def _matches(field: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(field, p) for p in patterns)


def known_fields(catalog: Catalog) -> list[str]:
    """Every field an installed ranking or problem names."""
    return sorted({m.spec.field for m in catalog.of("ranking") + catalog.of("problem")})


def perspective(catalog: Catalog, patterns: Sequence[str]) -> tuple[Catalog, dict[str, frozenset[str]]]:
    """The rankings of the fields matching ``patterns`` (``RULE``), and the problems each
    general one is kept to (``leaderboards(scope=...)``).

    Args:
        catalog: the modules; its rankings are chosen from, its problems give the fields.
        patterns: glob patterns on field names.

    Raises:
        UsageError: a pattern matches no field of an installed ranking or problem.
    """
    known = known_fields(catalog)
    for pattern in patterns:
        if not fnmatch.filter(known, pattern):
            raise UsageError(f"no ranking or problem has a field matching perspective {pattern!r}; "
                             f"known fields: {', '.join(known) or 'none'}")
    own = [r for r in catalog.of("ranking") if _matches(r.spec.field, patterns)]
    general = [r for r in catalog.of("ranking") if r.spec.field == GENERAL and r not in own]
    problems = frozenset(p.name for p in catalog.of("problem") if _matches(p.spec.field, patterns))
    chosen = [r for r in catalog.of("ranking") if r in own or r in general]
    kept = tuple(m for m in catalog.modules if m.kind != "ranking" or m in chosen)
    return attrs.evolve(catalog, modules=kept), {r.name: problems for r in general}
