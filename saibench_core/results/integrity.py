"""Store integrity: leaderboards never mix results of different code.

Each stored run carries the fingerprints of the code that computed it (``details
["fingerprints"]``, stamped by the campaign): every module's version and source hashes,
the engine's sources and the libraries' versions. A run is *current* when those match
what is installed now, and *stale* when any differs: a module edited or upgraded since, the
engine changed, JAX or NumPy upgraded. Leaderboards show the current runs and say how many
stale ones they left out, and why. A run of a module no longer installed is kept: nothing
installed computes it differently. A run stored before fingerprints were recorded cannot
be checked and is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from .store import Record

COMPARED = ("engine", "libraries")
"""The shared fingerprints compared besides each module's (the set of plugins loaded
beside a run is not: installing a plugin does not change another's results)."""


class Installed(Protocol):
    """What is installed now (``execute.key.RunKeys``)."""

    @property
    def shared(self) -> Mapping[str, Any]:
        """The fingerprints every run shares: engine, libraries, plugins."""

    def module(self, kind: Any, name: str) -> list[Any]:
        """A module's fingerprint: kind, name, version, function and package source."""


@attrs.frozen
class Integrity:
    """The current records, and how many stale ones were left out, counted by what changed."""

    current: list[Record]
    stale: Counter[str]

    def note(self) -> str | None:
        """One line for a leaderboard, or ``None`` when nothing was left out."""
        if not self.stale:
            return None
        n = sum(self.stale.values())
        why = ", ".join(f"{what} ({count})" for what, count in self.stale.most_common())
        return (f"{n} stale result(s) left out, computed by other code than is installed now: {why}; "
                "`saibench run` computes them again")


def changed(record: Record, installed: Installed) -> str | None:
    """What differs between the code that computed ``record`` and what is installed now
    (the first difference found), or ``None`` when nothing does or it cannot be told."""
    stored = record.details.get("fingerprints")
    if not isinstance(stored, Mapping):
        return None
    for entry in stored.get("modules", ()):
        if not isinstance(entry, Sequence) or len(entry) != 5:
            continue
        kind, name, *_ = entry
        now = installed.module(kind, name)
        if now[2] is not None and list(entry) != now:  # installed: same version and sources
            return f"{kind} {name}" + (f" {entry[2]} -> {now[2]}" if entry[2] != now[2] else "'s source")
    for part in COMPARED:
        if part in stored and stored[part] != installed.shared[part]:
            return "the engine" if part == "engine" else f"library versions ({_versions(stored[part], installed.shared[part])})"
    return None


def _versions(before: Any, now: Mapping[str, Any]) -> str:
    if not isinstance(before, Mapping):
        return "unknown before"
    return ", ".join(f"{name} {before.get(name)} -> {version}" for name, version in now.items() if before.get(name) != version)


def check(records: Iterable[Record], installed: Installed) -> Integrity:
    """Split ``records`` into the current ones and a count of the stale ones by reason."""
    current, stale = [], Counter[str]()
    for record in records:
        what = changed(record, installed)
        if what is None:
            current.append(record)
        else:
            stale[what] += 1
    return Integrity(current, stale)
