"""Plugin discovery: entry points in group ``saibench.plugins``, loaded through pluggy.

Bundled plugins are found exactly like third-party ones. A plugin that fails to import,
to validate, or to describe one of its modules is recorded in ``Catalog.broken`` with the
reason; every other plugin still loads.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import pluggy

from sail_types import SaibenchError
from sail_types._hooks import PROJECT

from . import hookspecs
from .catalog import Broken, Catalog, PluginInfo
from .describe import Descriptor, describe

ENTRY_POINT_GROUP = "saibench.plugins"
BLOCK_ENV = "SAIBENCH_BLOCK_PLUGINS"
ALLOW_ENV = "SAIBENCH_LOAD_PLUGINS"


def _names(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    return None if raw is None else {n.strip() for n in raw.split(",") if n.strip()}


def _reason(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class PluginManager:
    """A typed facade over ``pluggy.PluginManager`` for saibench's hooks."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.broken: list[Broken] = []

    def register(self, plugin: object, info: PluginInfo) -> None:
        """Register a plugin object, recording it as broken if pluggy rejects it."""
        try:
            self._pm.register(plugin, name=info.name)
            self._pm.check_pending()
        except Exception as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self.broken.append(Broken(info.name, None, f"invalid plugin: {exc}"))
            return
        self.plugins.append(info)

    def load_entry_points(self, distributions: Iterable[Any] | None = None) -> None:
        """Load every ``saibench.plugins`` entry point, honouring the block and allow lists.

        Args:
            distributions: the distributions to scan; all installed ones by default.
        """
        blocked, allowed = _names(BLOCK_ENV) or set(), _names(ALLOW_ENV)
        seen: set[str] = set()
        for dist in metadata.distributions() if distributions is None else distributions:
            dist_name = dist.metadata["Name"] or "?"
            if dist_name in seen:
                continue
            seen.add(dist_name)
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or ep.name in blocked:
                    continue
                if allowed is not None and ep.name not in allowed:
                    continue
                info = PluginInfo(ep.name, dist_name, dist.version)
                try:
                    plugin = ep.load()
                except Exception as exc:
                    self.broken.append(Broken(ep.name, None, f"cannot import {ep.value!r}: {_reason(exc)}"))
                    continue
                self.register(plugin, info)

    def modules(self) -> list[tuple[PluginInfo, Sequence[Callable[..., Any]]]]:
        """Each plugin's modules, calling every hook implementation on its own, so that one
        plugin raising does not hide the others."""
        infos = {p.name: p for p in self.plugins}
        found: list[tuple[PluginInfo, Sequence[Callable[..., Any]]]] = []
        for impl in self._pm.hook.saibench_modules.get_hookimpls():  # registration order
            info = infos[impl.plugin_name]
            try:
                provided = list(cast(Iterable[Callable[..., Any]], impl.function()))
            except Exception as exc:
                self.broken.append(Broken(info.name, None, f"saibench_modules() raised {_reason(exc)}"))
                continue
            found.append((info, provided))
        return found

    def preload(self) -> tuple[str, ...]:
        """The modules plugins ask pods to have imported (``saibench_preload``)."""
        names: list[str] = []
        for impl in self._pm.hook.saibench_preload.get_hookimpls():
            try:
                names += [str(n) for n in cast(Iterable[str], impl.function())]
            except Exception as exc:
                self.broken.append(Broken(impl.plugin_name, None, f"saibench_preload() raised {_reason(exc)}"))
        return tuple(dict.fromkeys(names))

    def catalog(self) -> Catalog:
        """Describe every module of every plugin into a ``Catalog``."""
        described: list[Descriptor] = []
        plugins: list[PluginInfo] = []
        owner: dict[tuple[str, str], str] = {}
        for info, fns in self.modules():
            names = []
            for fn in fns:
                label = getattr(fn, "__name__", repr(fn))
                try:
                    desc = describe(fn, info.name, info.version)
                except SaibenchError as exc:
                    self.broken.append(Broken(info.name, label, str(exc)))
                    continue
                except Exception as exc:
                    self.broken.append(Broken(info.name, label, f"describing raised {_reason(exc)}"))
                    continue
                key = (desc.kind, desc.name)
                if key in owner:
                    self.broken.append(Broken(
                        info.name, desc.name,
                        f"a {desc.kind} named {desc.name!r} already comes from plugin {owner[key]!r}; "
                        f"rename one (name=... in the decorator) or block a plugin with {BLOCK_ENV}",
                    ))
                    continue
                owner[key] = info.name
                described.append(desc)
                names.append(desc.name)
            plugins.append(PluginInfo(info.name, info.distribution, info.version, tuple(names)))
        listed = {p.name for p in plugins}
        plugins += [p for p in self.plugins if p.name not in listed]
        preload = self.preload()
        return Catalog(tuple(described), tuple(plugins), tuple(self.broken), preload)


def load_catalog(extra: Sequence[tuple[str, object]] = (), *, entry_points: bool = True) -> Catalog:
    """Discover installed plugins (and ``extra`` (name, plugin) pairs) and describe them."""
    manager = PluginManager()
    if entry_points:
        manager.load_entry_points()
    for name, plugin in extra:
        manager.register(plugin, PluginInfo(name, "<local>", "0"))
    return manager.catalog()
