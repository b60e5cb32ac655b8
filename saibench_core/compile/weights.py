"""Saving trained parameters and loading them into a later run (pre-train, then fine-tune).

Parameters are a pytree; each leaf is stored in an ``.npz`` under its tree path, so a file
loads into any model whose parameters have the same paths and shapes, and a mismatch is
reported leaf by leaf.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import UsageError


def _leaves(params: Any) -> dict[str, Any]:
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    return {jax.tree_util.keystr(path): leaf for path, leaf in flat}


def save(params: Any, path: Path) -> Path:
    """Write ``params`` to ``path`` (``.npz``), never through a link planted there.

    The name is predictable (``<dir>/<run key>.npz``), so anyone who can write in the
    folder could plant a symbolic link there to a file of the user's. The arrays are written
    to a fresh file of a random name (created exclusively, readable by the owner only)
    beside ``path`` and renamed over it: a rename replaces a link instead of writing through
    it, and a reader never sees half a file. A link found at ``path`` is refused outright.

    Raises:
        UsageError: ``path`` is a symbolic link.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        raise UsageError(f"refusing to save weights to {str(path)!r}: it is a symbolic link (to {os.readlink(path)!r}), "
                         "which saibench never writes through; remove it or choose another --save-weights directory")
    arrays: dict[str, Any] = {k: np.asarray(v) for k, v in _leaves(params).items()}
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


def load(path: Path, like: Any, *, keep: str = "") -> Any:
    """Parameters from ``path`` shaped as ``like`` (a freshly initialised model's).

    With ``keep``, only the parameters whose path (``jax.tree_util.keystr``) starts with it
    are loaded - a pre-trained encoder, ``keep="[0]"`` - and the rest stay as in ``like``
    (a new head); the file's other parameters (the old head) are left out.

    Raises:
        UsageError: the file is missing, or its leaves do not match the model's (for
            ``keep``: a kept parameter is missing or of another shape, or none is kept).
    """
    try:
        with np.load(path) as npz:
            stored = dict(npz)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read weights {str(path)!r}: {exc}") from None
    wanted = {k: v for k, v in _leaves(like).items() if k.startswith(keep)}
    problems = [f"{k}: missing" for k in wanted if k not in stored]
    problems += [f"{k}: file has {stored[k].shape}, model needs {tuple(v.shape)}" for k, v in wanted.items()
                 if k in stored and stored[k].shape != tuple(v.shape)]
    if not keep:
        problems += [f"{k}: not in this model" for k in stored if k not in wanted]
    elif not wanted:
        problems.append(f"no parameter of this model has a path starting with {keep!r}; its paths start with "
                        f"{sorted({k[:8] for k in _leaves(like)})[:5]}")
    if problems:
        raise UsageError(f"weights {str(path)!r} do not fit this model{f' (keeping {keep!r})' if keep else ''}: " + "; ".join(problems[:5]) +
                         (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""))
    flat, tree = jax.tree_util.tree_flatten_with_path(like)
    leaves = [jnp.asarray(stored[name], leaf.dtype) if (name := jax.tree_util.keystr(p)) in wanted else leaf for p, leaf in flat]
    return jax.tree_util.tree_unflatten(tree, leaves)
