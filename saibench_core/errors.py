"""saibench's exception hierarchy: one root, leaves that are also the built-in they are."""

from __future__ import annotations

import enum

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


class Part(enum.Enum):
    """Where an ``InvalidInput`` message names its input: the name alone, the value alone, or
    both (``where``), each spelt as the front end that raised it spells them."""

    NAME = "name"
    VALUE = "value"
    WHERE = "where"


class InvalidInput(UsageError):
    """An input whose value cannot work, found before any work starts (planning, training).

    One check serves both front ends: the message names the input as the Python API spells
    it (``save_weights='/x' is a file ...``) and, through ``naming``, as the CLI does
    (``--save-weights '/x' is a file ...``).

    Args:
        parameter: the API's keyword, e.g. ``"save_weights"``.
        value: what was given.
        parts: the message: text, and ``Part`` where the input's name, value or both go.
    """

    def __init__(self, parameter: str, value: object, *parts: str | Part) -> None:
        self.parameter, self.value, self.parts = parameter, value, parts
        super().__init__(self.naming(f"{parameter}=", sep=""))

    def naming(self, name: str, *, sep: str = " ") -> str:
        """The message with the input called ``name`` (a CLI option: ``"--save-weights"``)."""
        spelt = {Part.NAME: name.rstrip("="), Part.VALUE: str(self.value), Part.WHERE: f"{name}{sep}{self.value!r}"}
        return "".join(spelt[p] if isinstance(p, Part) else p for p in self.parts)


class MissingExtra(SaibenchError, ImportError):
    """A feature needs an optional dependency that is not installed.

    ``extra`` is saibench's extra that installs it (``pip install 'saibench[<extra>]'``).
    """

    def __init__(self, feature: str, package: str, extra: str, instead: str = "") -> None:
        super().__init__(f"{feature} needs {package}, which is not installed: pip install 'saibench[{extra}]'"
                         + (f" ({instead})" if instead else ""))
        self.package, self.extra = package, extra
