"""The dry run's child (see ``dryrun``): loads the plugins it is given, one after another,
and tells its parent on the original stdout how far it got."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from importlib import metadata

from sail_types import SaibenchError

from .catalog import PluginInfo
from .contained import guard
from .manager import ENTRY_POINT_GROUP, PluginManager


def main() -> None:
    """The child: load each plugin as the command would, telling the parent how far it got."""
    # the protocol keeps fd 1's pipe; plugin code writing to stdout reaches stderr instead
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    job = json.load(sys.stdin)
    sys.path[:] = job["path"]

    def send(**message: str) -> None:
        protocol.write(json.dumps(message) + "\n")

    for plugin in job["plugins"]:
        send(begin=plugin["name"])
        manager = PluginManager(limit_probes=False, on_phase=lambda phase: send(phase=phase))
        ep = metadata.EntryPoint(name=plugin["name"], value=plugin["value"], group=ENTRY_POINT_GROUP)
        manager.load_entry_point(ep, PluginInfo(plugin["name"], plugin["distribution"], plugin["version"]))
        catalog = manager.catalog()
        for name in catalog.preload:
            send(phase=f"importing its preloaded module {name!r}")
            # an ordinary import error is for the pod that needs the module to report
            with contextlib.suppress(SaibenchError), guard(f"import {name}"):
                importlib.import_module(name)
        send(end=plugin["name"])
    protocol.flush()
    os._exit(0)  # plugins' atexit handlers and threads are not the parent's business


if __name__ == "__main__":
    main()
