"""Explicit relations: modules that pair only with some others, or never with some.

``only_with=("problem:qm*", "field:chemistry")``: for every role named, the run's module
in that role must match one of the globs; ``field:`` names the field of the run's problem
(or, for a problem, of its model). ``never_with`` excludes any match.
"""

from __future__ import annotations

import fnmatch

from ..discovery import Descriptor


def _subject(module: Descriptor, partner: Descriptor, role: str) -> str | None:
    """What an entry of ``module`` for ``role`` is matched against in ``partner``."""
    if role == "field":
        wanted = "model" if module.kind == "problem" else "problem"
        return partner.spec.field if partner.kind == wanted else None
    return partner.name if partner.kind == role else None


def _one_way(module: Descriptor, partner: Descriptor) -> str | None:
    spec = module.spec
    only: dict[str, list[str]] = {}
    for entry in spec.only_with:
        role, _, pattern = entry.partition(":")
        only.setdefault(role, []).append(pattern)
    for role, patterns in only.items():
        subject = _subject(module, partner, role)
        if subject is not None and not any(fnmatch.fnmatchcase(subject, p) for p in patterns):
            what = f"{role} {subject}" if role != "field" else f"{partner.kind} {partner.name} of field {subject}"
            return f"{module.kind} {module.name} pairs only with {', '.join(f'{role}:{p}' for p in patterns)}, not {what}"
    for entry in spec.never_with:
        role, _, pattern = entry.partition(":")
        subject = _subject(module, partner, role)
        if subject is not None and fnmatch.fnmatchcase(subject, pattern):
            return f"{module.kind} {module.name} never pairs with {entry} ({partner.kind} {partner.name})"
    return None


def has_relations(module: Descriptor) -> bool:
    """Whether ``module`` declares any relation."""
    return bool(module.spec.only_with or module.spec.never_with)


def conflict(a: Descriptor, b: Descriptor) -> str | None:
    """Why ``a`` and ``b`` cannot be in one run by their declared relations, or ``None``."""
    return _one_way(a, b) or _one_way(b, a)
