"""The ``saibench`` command line: plugins, solve, explain, check, run, rank, results.

It parses options, calls the Python API (``saibench_core.plan``, ``run``, ``rank``, ...)
and prints; what it refuses, the API refuses with the same error, named here by option.
Planning commands import neither JAX nor the plugins' heavy dependencies; only ``run``
starts pods that do.
"""

from . import data, planning, provenance, report, results, running  # noqa: F401  (each registers its commands on ``main``)
from ._common import main as main
