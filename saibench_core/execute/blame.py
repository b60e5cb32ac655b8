"""Where in plugin code a run's exception was raised, for its reason.

A run's reason is one line (``ValueError: my layer is broken``); the traceback goes to its
log. So that the line alone tells a plugin author where to look, it ends with the innermost
frame of the traceback that is neither saibench's nor a library's it runs on (JAX, NumPy,
optax, the standard library...): ``(at apply, myplugin/layers.py:42)``. An exception the
engine raises after plugin code returned has no such frame, and no suffix.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from functools import cache
from importlib.util import find_spec

ENGINE_AND_LIBRARIES = ("sail_types", "saibench_core", "jax", "jaxlib", "numpy", "optax", "equinox", "flax", "scipy",
                        "sklearn", "attrs", "attr", "pluggy", "psutil", "z3")


@cache
def _foreign_roots() -> tuple[str, ...]:
    roots = {os.path.realpath(sysconfig.get_paths()["stdlib"])}
    for name in ENGINE_AND_LIBRARIES:
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            roots.add(os.path.realpath(location))
    return tuple(sorted(roots))


def _is_plugin(filename: str) -> bool:
    if filename.startswith("<"):  # <frozen ...>, <string>
        return False
    path = os.path.realpath(filename)
    return not any(path == root or path.startswith(root + os.sep) for root in _foreign_roots())


def plugin_frame(exc: BaseException) -> str:
    """`` (at FUNCTION, FILE:LINE)`` for the innermost plugin frame of ``exc``'s traceback,
    ``""`` when it has none. ``FILE`` is shortened to its last two path parts."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if _is_plugin(frame.filename):
            short = os.path.join(*os.path.normpath(frame.filename).split(os.sep)[-2:])
            return f" (at {frame.name}, {short}:{frame.lineno})"
    return ""
