"""Provenance: the environment a run was computed in, recorded with it.

A pod records ``environment()`` in its result (``details["environment"]``): Python, the
operating system, the CPU, every installed distribution and its version, JAX's backend and
devices, and the state of the compilation cache. The campaign adds the fingerprints its
key was made of (``details["fingerprints"]``: each module's version and source hashes,
the engine's sources, the libraries, the plugins loaded beside it; see
``execute.key``). ``saibench results show KEY`` prints both, with the run's seeds and
dataset checksums.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import sys
from importlib import metadata
from typing import Any

import psutil


@functools.cache
def distributions() -> dict[str, str]:
    """Every installed distribution by its normalised name (PEP 503), with its version;
    the first found on ``sys.path`` where two copies are installed, as Python imports it."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalised(name), dist.version)
    return dict(sorted(found.items()))


def normalised(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Hardware", "Processor"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _jax() -> dict[str, Any] | None:
    """JAX's backend and devices, when the process has imported JAX (a pod has)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    devices = jax.devices()
    return {"version": jax.__version__, "backend": jax.default_backend(),
            "devices": [{"id": d.id, "platform": d.platform, "kind": d.device_kind} for d in devices],
            "x64": bool(jax.config.jax_enable_x64), "prng": str(jax.config.jax_default_prng_impl),
            "compilation_cache": jax.config.jax_compilation_cache_dir or "off"}


def environment() -> dict[str, Any]:
    """What a run needs recorded to be reproduced elsewhere (see the module docstring)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "python": platform.python_version(), "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "os": platform.platform(), "machine": platform.machine(),
        "cpu": {"model": cpu_model(), "usable": cpus, "logical": os.cpu_count()},
        "memory_mib": round(psutil.virtual_memory().total / 2**20),
        "jax": _jax(),
        "distributions": distributions(),
    }
