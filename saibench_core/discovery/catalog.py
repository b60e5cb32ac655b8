"""The catalog: every described module, the plugins they came from, and what broke."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from sail_types._modules import ModuleKind

from ..errors import UsageError
from .describe import Descriptor


@attrs.frozen
class PluginInfo:
    """An installed plugin: its entry-point name, distribution and version, its modules."""

    name: str
    distribution: str
    version: str
    modules: tuple[str, ...] = ()


@attrs.frozen
class Broken:
    """A plugin or module that could not be loaded or described, and why."""

    plugin: str
    module: str | None
    reason: str

    def __str__(self) -> str:
        where = f"plugin {self.plugin!r}" + (f", module {self.module!r}" if self.module else "")
        return f"{where}: {self.reason}"


@attrs.frozen
class Catalog:
    """Every module that described cleanly, by kind, plus the plugins and the failures."""

    modules: tuple[Descriptor, ...]
    plugins: tuple[PluginInfo, ...] = ()
    broken: tuple[Broken, ...] = ()
    preload: tuple[str, ...] = ()

    def of(self, kind: ModuleKind) -> list[Descriptor]:
        """The modules of one kind, in discovery order."""
        return [m for m in self.modules if m.kind == kind]

    def get(self, kind: ModuleKind, name: str) -> Descriptor | None:
        """The module of ``kind`` called ``name``, or ``None``."""
        return next((m for m in self.modules if m.kind == kind and m.name == name), None)

    def require(self, kind: ModuleKind, name: str) -> Descriptor:
        """The module of ``kind`` called ``name``, which a planned run names.

        Raises:
            UsageError: it is no longer installed (the plan is older than the catalog).
        """
        found = self.get(kind, name)
        if found is None:
            raise UsageError(f"{kind} {name!r} is no longer installed; re-run `saibench solve`")
        return found

    def __iter__(self) -> Iterator[Descriptor]:
        return iter(self.modules)
