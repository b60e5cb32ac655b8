"""saibench's exception hierarchy: one root, leaves that are also the built-in they are."""

from __future__ import annotations

from sail_types import Fail as Fail
from sail_types import InvalidSignature as InvalidSignature
from sail_types import SaibenchError as SaibenchError


class UsageError(SaibenchError, ValueError):
    """The user asked for something that cannot be done as asked (unknown module, bad path).

    The message names what was wrong and how to fix it; the CLI prints it on one line.
    """


class PluginError(SaibenchError, ImportError):
    """A plugin could not be loaded or validated."""

    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(f"plugin {plugin!r}: {reason}")
        self.plugin = plugin
        self.reason = reason


class StoreError(SaibenchError, OSError):
    """The results store cannot be opened, read or written.

    The message names the database file, what failed and how to fix it; ``path`` is the
    file (``None`` where no file is concerned). The CLI prints it on one line.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path
