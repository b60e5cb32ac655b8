"""The datasets installed plugins declare (``saibench_datasets``), by name."""

from __future__ import annotations

from sail_types import DataSource

from ..discovery.catalog import Broken
from ..discovery.manager import PluginManager
from ..errors import UsageError


def declared() -> tuple[dict[str, DataSource], list[Broken]]:
    """Every declared dataset by name, and what broke (a hook that failed; two plugins
    declaring one name, both left out)."""
    manager = PluginManager()
    manager.load_entry_points()
    found = manager.datasets()
    owners: dict[str, list[str]] = {}
    for plugin, source in found:
        owners.setdefault(source.name, []).append(plugin)
    broken = list(manager.broken)
    kept: dict[str, DataSource] = {}
    for plugin, source in found:
        if len(owners[source.name]) > 1:
            broken.append(Broken(plugin, source.name, f"a dataset named {source.name!r} comes from plugins "
                                 f"{' and '.join(map(repr, owners[source.name]))}; neither is used"))
        else:
            kept[source.name] = source
    return kept, broken


def find(sources: dict[str, DataSource], name: str) -> DataSource:
    """The dataset called ``name``.

    Raises:
        UsageError: no plugin declares it (the message names the known ones).
    """
    if name not in sources:
        known = ", ".join(sorted(sources)) or "none: install a plugin that declares one"
        raise UsageError(f"unknown dataset {name!r}; known datasets: {known}")
    return sources[name]
