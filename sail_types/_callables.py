"""What a plugin's callable accepts, read from its signature."""

from __future__ import annotations

import inspect
from typing import Any


def takes_keyword(function: Any, name: str) -> bool:
    """Whether ``function`` takes an argument ``name`` by keyword (``False`` for a callable
    without a readable signature, such as some builtins)."""
    try:
        found = inspect.signature(function).parameters.get(name)
    except (TypeError, ValueError):
        return False
    return found is not None and found.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
