"""The run key: a hash of everything that decides a run's result, under which it is stored.

Two runs with one key are interchangeable, so a campaign skips a run whose key is stored.
The key therefore covers (each a part of ``RunKeys.parts``):

- ``run``: the run itself (modules by role, chains, fills, dims, hyperparameters, seed,
  split, fine-tuning weights);
- ``modules``: each module the run uses, by kind, name, version, its function's source and
  the source of the whole package that defines it (helpers and constants included);
- ``engine``: saibench's version and the source of the engine parts a pod executes;
- ``libraries``: the versions of jax, jaxlib, optax, numpy and Python;
- ``plugins``: every plugin loaded beside it, by distribution and version;
- ``dataset``: the checksum of the data the problem returns at this point (``Run.dataset_checksum``,
  measured by the campaign before any run is skipped or started).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sail_types._modules import ModuleKind

from ..discovery import Catalog
from ..planner import Run
from . import fingerprint

FINGERPRINTS = ("modules", "engine", "libraries", "plugins")


class RunKeys:
    """Keys of the runs of one catalog; what every run shares is computed once."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.shared = {"engine": fingerprint.engine(), "libraries": fingerprint.libraries(),
                       "plugins": fingerprint.plugins(catalog)}
        self._modules: dict[tuple[ModuleKind, str], list[Any]] = {}

    def module(self, kind: ModuleKind, name: str) -> list[Any]:
        """One module's part of the key: kind, name, version, function and package source."""
        found = self._modules.get((kind, name))
        if found is None:
            desc = self.catalog.get(kind, name)
            found = [kind, name, None, None, None] if desc is None else \
                [kind, name, desc.version, desc.source_hash, fingerprint.package_source(desc.fn)]
            self._modules[kind, name] = found
        return found

    def parts(self, run: Run) -> dict[str, Any]:
        """Every part of ``run``'s key, by name (see the module docstring)."""
        return {"run": run.to_json(), "modules": [self.module(kind, name) for kind, name in run.modules()],
                **self.shared, "dataset": run.dataset_checksum}

    def fingerprints(self, run: Run) -> dict[str, Any]:
        """The parts of ``run``'s key that describe code rather than the run: its modules,
        the engine, the libraries and the plugins loaded beside it. Stored with the run
        (``details["fingerprints"]``), so a leaderboard can tell a result of other code
        (``results.integrity``) and ``results show`` can say what computed it."""
        parts = self.parts(run)
        return {name: parts[name] for name in FINGERPRINTS}

    def __call__(self, run: Run) -> str:
        """``run``'s key: SHA-256 (hex) of its parts."""
        blob = json.dumps(self.parts(run), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()


def run_key(catalog: Catalog, run: Run) -> str:
    """A hash of everything that decides ``run``'s outcome (see ``RunKeys``); for many
    runs of one catalog, make one ``RunKeys(catalog)`` and call it on each."""
    return RunKeys(catalog)(run)
