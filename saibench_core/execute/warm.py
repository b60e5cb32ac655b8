"""What a BenchPod fork server imports once, so that every pod forked from it starts warm.

Imports only: no JAX backend is initialized here (that starts XLA threads, which must not
be forked). Loading the catalog imports the plugins; their heavy dependencies (e.g.
scikit-learn) stay lazy, in the pods that need them.
"""

from __future__ import annotations

import jax  # noqa: F401 - imported for its import time, not used here
import numpy  # noqa: F401
import optax  # noqa: F401

from ..discovery import load_catalog
from . import pod  # noqa: F401

load_catalog()
