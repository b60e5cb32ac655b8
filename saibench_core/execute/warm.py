"""What a BenchPod fork server imports once, so that every pod forked from it starts warm.

Imports only: no JAX backend is initialized here (that starts XLA threads, which must not
be forked). The catalog is loaded once and the modules plugins name in ``saibench_preload``
imported; a pod reuses the catalog when the installed plugins and the ``SAIBENCH_*``
environment are those the server started with, and otherwise discovers afresh. The
installed distributions each run records (``results.provenance``) are read here too.
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata

import jax  # noqa: F401 - imported for its import time, not used here
import numpy  # noqa: F401
import optax  # noqa: F401

from .. import compile  # noqa: F401 - JAX-side model compilation and training
from ..discovery import ENTRY_POINT_GROUP, Catalog, load_catalog
from ..results import provenance
from . import pod  # noqa: F401


def _fingerprint() -> tuple[object, ...]:
    plugins = sorted((ep.name, ep.value, ep.dist.version if ep.dist else "") for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    return tuple(plugins), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SAIBENCH_")))


_STARTED_WITH = _fingerprint()
_CATALOG = load_catalog()
provenance.distributions()  # every pod records them: read once here (0.3 s), while the campaign runs
for _name in _CATALOG.preload:
    try:
        importlib.import_module(_name)
    except Exception:  # noqa: BLE001, S112 - the pod that needs it reports the failure
        continue


def catalog() -> Catalog | None:
    """The catalog loaded at start, if the pod's plugins and environment still match it."""
    return _CATALOG if _fingerprint() == _STARTED_WITH else None
