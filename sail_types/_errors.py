"""The root of saibench's exception hierarchy, importable by plugin authors."""

from __future__ import annotations


class SaibenchError(Exception):
    """Root of every error saibench raises on purpose.

    Messages say who (plugin, module), where, what went wrong, and how to fix it.
    """


class InvalidSignature(SaibenchError, TypeError):
    """A SAIL module's declaration or annotations cannot be read.

    Args:
        module: qualified name of the offending function.
        problem: what is wrong and how to fix it.
    """

    def __init__(self, module: str, problem: str) -> None:
        super().__init__(f"{module}: {problem}")
        self.module = module
        self.problem = problem


class Fail(SaibenchError):
    """Raised by a module to reject a context at describe time (SAIBench paper, §4.2).

    A hardware module raises ``Fail("no CUDA device")`` when its device is absent; the
    planner keeps the reason and ``saibench solve --all`` shows it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidValue(InvalidSignature, ValueError):
    """A value a plugin declares (a grid value, a cost, a goal, a name) is out of range or of a
    kind saibench cannot carry; ``module`` is the offending declaration."""
