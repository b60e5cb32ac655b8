"""Plugin discovery: entry points in group ``saibench.plugins``, loaded through pluggy.

Bundled plugins are found exactly like third-party ones. A plugin that fails to import,
to validate, or to describe one of its modules is recorded in ``Catalog.broken`` with the
reason; every other plugin still loads. Plugin code runs contained: first in a child (the
dry run, ``dryrun``: exits, hangs and crashes), then in-process under ``contained.guard``
(exceptions of any kind; stdout sent to stderr). Two plugins, or two modules, claiming one
name are both broken, with a message naming both distributions.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import pluggy

from sail_types import DataSource, SaibenchError
from sail_types._hooks import PROJECT

from . import dryrun, hookspecs
from .catalog import Broken, Catalog, PluginInfo
from .contained import PluginFailure, guard, reason
from .describe import Descriptor, describe

ENTRY_POINT_GROUP = "saibench.plugins"
BLOCK_ENV = "SAIBENCH_BLOCK_PLUGINS"
ALLOW_ENV = "SAIBENCH_LOAD_PLUGINS"
_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(env: str) -> set[str] | None:
    """The names in a comma-separated list: entry-point names, or distribution names
    (compared as pip does: case and ``-_.`` ignored), which tell two clashing plugins apart."""
    raw = os.environ.get(env)
    return None if raw is None else {_canonical(n.strip()) for n in raw.split(",") if n.strip()}


def _listed(names: set[str], ep_name: str, dist_name: str) -> bool:
    return _canonical(ep_name) in names or _canonical(dist_name) in names


def _hook_failure(hook: str, exc: Exception) -> str:
    """Why calling ``hook`` (``"saibench_modules()"``) under ``guard`` failed, on one line."""
    return exc.reason if isinstance(exc, PluginFailure) else f"{hook} raised {reason(exc)}"


class PluginManager:
    """A typed facade over ``pluggy.PluginManager`` for saibench's hooks.

    Args:
        limit_probes: give a hardware or software probe ``SAIBENCH_PLUGIN_TIMEOUT`` seconds
            in-process; off in the dry run's child, whose parent kills it instead.
        on_phase: told what is about to run (the dry run reports it when a plugin dies).
    """

    def __init__(self, *, limit_probes: bool = True, on_phase: Callable[[str], None] | None = None) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.broken: list[Broken] = []
        self._probe_limit = dryrun.timeout() if limit_probes else None
        self._phase = on_phase or (lambda phase: None)

    def register(self, plugin: object, info: PluginInfo) -> None:
        """Register a plugin object, recording it as broken if pluggy rejects it."""
        self._phase("registering its hooks")
        try:
            with guard("registering the plugin"):
                self._pm.register(plugin, name=info.name)
                self._pm.check_pending()
        except Exception as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self.broken.append(Broken(info.name, None, f"invalid plugin: {exc}"))
            return
        self.plugins.append(info)

    def load_entry_point(self, ep: metadata.EntryPoint, info: PluginInfo) -> None:
        """Import one entry point and register it (no dry run: see ``load_entry_points``)."""
        self._phase("importing it")
        try:
            with guard(f"importing {ep.value!r}"):
                plugin = ep.load()
        except PluginFailure as exc:
            self.broken.append(Broken(ep.name, None, f"cannot import {ep.value!r}: {exc.detail}"))
            return
        except SaibenchError as exc:  # e.g. InvalidSignature from a decorator, at import
            self.broken.append(Broken(ep.name, None, f"cannot import {ep.value!r}: {reason(exc)}"))
            return
        self.register(plugin, info)

    def load_entry_points(self, distributions: Iterable[Any] | None = None) -> None:
        """Load every ``saibench.plugins`` entry point, honouring the block and allow lists.

        An entry-point name two distributions provide is broken in both. Each plugin is
        first loaded in a child process (see ``dryrun``; verdicts cached); one that exits,
        crashes or hangs there is broken and not imported here.

        Args:
            distributions: the distributions to scan; all installed ones by default.
        """
        blocked, allowed = _names(BLOCK_ENV) or set(), _names(ALLOW_ENV)
        seen: set[str] = set()
        installed: list[tuple[str, str]] = []
        found: dict[str, list[tuple[metadata.EntryPoint, PluginInfo]]] = {}
        for dist in metadata.distributions() if distributions is None else distributions:
            meta = dist.metadata  # parsed afresh on every access: once per distribution
            dist_name = meta["Name"] or "?"
            version = str(meta["Version"] if "Version" in meta else dist.version)
            if dist_name in seen:
                continue
            seen.add(dist_name)
            installed.append((dist_name, version))
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or _listed(blocked, ep.name, dist_name):
                    continue
                if allowed is not None and not _listed(allowed, ep.name, dist_name):
                    continue
                found.setdefault(ep.name, []).append((ep, PluginInfo(ep.name, dist_name, version)))
        chosen: list[tuple[metadata.EntryPoint, PluginInfo]] = []
        for name, claims in found.items():
            if len(claims) == 1:
                chosen += claims
                continue
            who = " and ".join(f"{i.distribution} {i.version} ({ep.value})" for ep, i in claims)
            for _ in claims:
                self.broken.append(Broken(name, None, (
                    f"entry point {name!r} is provided by {who}; neither is loaded. Rename one entry point "
                    f"(pyproject.toml: [project.entry-points.\"{ENTRY_POINT_GROUP}\"]) or block one distribution by name, "
                    + " or ".join(f"{BLOCK_ENV}={i.distribution}" for _, i in claims))))
        fatal: dict[str, str] = {}
        if chosen:
            env = dryrun.environment(installed)
            fatal = dryrun.vet([dryrun.Candidate(i.name, ep.value, i.distribution, i.version) for ep, i in chosen], env)
        for ep, info in chosen:
            if info.name in fatal:
                self.broken.append(Broken(info.name, None, f"{fatal[info.name]}; not loaded (dry run of {info.distribution} {info.version})"))
                continue
            self.load_entry_point(ep, info)

    def modules(self) -> list[tuple[PluginInfo, Sequence[Callable[..., Any]]]]:
        """Each plugin's modules, calling every hook implementation on its own, so that one
        plugin raising does not hide the others."""
        infos = {p.name: p for p in self.plugins}
        found: list[tuple[PluginInfo, Sequence[Callable[..., Any]]]] = []
        for impl in self._pm.hook.saibench_modules.get_hookimpls():  # registration order
            info = infos[impl.plugin_name]
            self._phase("calling saibench_modules()")
            try:
                with guard("saibench_modules()"):
                    provided = list(cast(Iterable[Callable[..., Any]], impl.function()))
            except Exception as exc:
                self.broken.append(Broken(info.name, None, _hook_failure("saibench_modules()", exc)))
                continue
            found.append((info, provided))
        return found

    def preload(self, skip: Iterable[str] = ()) -> tuple[str, ...]:
        """The modules plugins (but those in ``skip``) ask pods to have imported
        (``saibench_preload``); a plugin whose hook raises or returns something else than
        module names is broken."""
        names: list[str] = []
        for impl in self._pm.hook.saibench_preload.get_hookimpls():
            if impl.plugin_name in skip:
                continue
            self._phase("calling saibench_preload()")
            try:
                with guard("saibench_preload()"):
                    given = list(cast(Iterable[object], impl.function()))
            except Exception as exc:
                self.broken.append(Broken(impl.plugin_name, None, _hook_failure("saibench_preload()", exc)))
                continue
            bad = [n for n in given if not isinstance(n, str) or not _MODULE_NAME.fullmatch(n)]
            if bad:
                self.broken.append(Broken(impl.plugin_name, None, f"saibench_preload() returned {bad!r}; it returns "
                                          "importable module names, e.g. ['sklearn.datasets']"))
                continue
            names += cast(list[str], given)
        return tuple(dict.fromkeys(names))

    def datasets(self) -> list[tuple[str, Any]]:
        """``(plugin, DataSource)`` for every dataset plugins declare (``saibench_datasets``);
        a plugin whose hook raises or returns something else is broken, the others kept."""
        found: list[tuple[str, Any]] = []
        for impl in self._pm.hook.saibench_datasets.get_hookimpls():
            self._phase("calling saibench_datasets()")
            try:
                with guard("saibench_datasets()"):
                    given = list(cast(Iterable[object], impl.function()))
            except Exception as exc:
                self.broken.append(Broken(impl.plugin_name, None, _hook_failure("saibench_datasets()", exc)))
                continue
            bad = [d for d in given if not isinstance(d, DataSource)]
            if bad:
                self.broken.append(Broken(impl.plugin_name, None, f"saibench_datasets() returned {bad!r}; it returns "
                                          "sail_types.DataSource objects"))
                continue
            found += [(impl.plugin_name, d) for d in given]
        return found

    def _describe(self, info: PluginInfo, fn: Callable[..., Any], label: str) -> Descriptor | None:
        self._phase(f"describing {label!r}")
        try:
            with guard(f"describing {label!r}"):
                return describe(fn, info.name, info.version, probe_limit=self._probe_limit)
        except PluginFailure as exc:
            self.broken.append(Broken(info.name, label, exc.reason))
        except SaibenchError as exc:
            self.broken.append(Broken(info.name, label, str(exc)))
        return None

    def catalog(self) -> Catalog:
        """Describe every module of every plugin into a ``Catalog``; two modules of one kind
        and name are both left out, each broken with a message naming both distributions."""
        described: list[tuple[PluginInfo, Descriptor]] = []
        infos: list[PluginInfo] = []
        for info, fns in self.modules():
            infos.append(info)
            for fn in fns:
                desc = self._describe(info, fn, str(getattr(fn, "__name__", repr(fn))))
                if desc is not None:
                    described.append((info, desc))
        claims: dict[tuple[str, str], list[PluginInfo]] = {}
        for info, desc in described:
            claims.setdefault((desc.kind, desc.name), []).append(info)
        kept: list[Descriptor] = []
        for info, desc in described:
            owners = claims[(desc.kind, desc.name)]
            if len(owners) == 1:
                kept.append(desc)
                continue
            who = " and ".join(f"plugin {o.name!r} ({o.distribution} {o.version})" for o in owners)
            self.broken.append(Broken(info.name, desc.name, (
                f"a {desc.kind} named {desc.name!r} comes from {who}; neither is used. Rename one "
                f"(name=... in its decorator) or block one plugin with {BLOCK_ENV}")))
        plugins = [PluginInfo(i.name, i.distribution, i.version, tuple(d.name for d in kept if d.plugin == i.name)) for i in infos]
        listed = {p.name for p in plugins}
        plugins += [p for p in self.plugins if p.name not in listed]
        # a plugin that broke as a whole (its modules hook raised) has no pods to warm up
        preload = self.preload(skip={b.plugin for b in self.broken if b.module is None})
        return Catalog(tuple(kept), tuple(plugins), tuple(self.broken), preload)


def load_catalog(extra: Sequence[tuple[str, object]] = (), *, entry_points: bool = True) -> Catalog:
    """Discover installed plugins (and ``extra`` (name, plugin) pairs) and describe them."""
    manager = PluginManager()
    if entry_points:
        manager.load_entry_points()
    for name, plugin in extra:
        manager.register(plugin, PluginInfo(name, "<local>", "0"))
    return manager.catalog()
