"""saibench's engine and its typed Python API: plan, run, rank, and results as a table.

    >>> import saibench_core as sb
    >>> plan = sb.plan(problem="wine", model="linear")   # what `saibench solve` lists
    >>> results = sb.run(plan)                           # doctest: +SKIP
    >>> boards = sb.rank(problem="wine")                 # doctest: +SKIP
    >>> frame = results.to_dataframe()                   # doctest: +SKIP

The ``saibench`` command line is a thin layer over these functions. Importing the package is
cheap: JAX is imported only by the stages that run models (inside ``run``'s pods), and the
API's names are imported on first use (PEP 562), so a process that needs one subpackage
(the plugin dry-run child, a pod) does not import the planner, its solver or the rankings.
"""

import importlib as _importlib
import sys as _sys
import types as _types
import typing as _typing

from .errors import InvalidInput as InvalidInput
from .errors import MissingExtra as MissingExtra
from .errors import SaibenchError as SaibenchError
from .errors import StoreError as StoreError
from .errors import UsageError as UsageError

if _typing.TYPE_CHECKING:
    from ._api.aibom import aibom as aibom
    from ._api.plan import Explanation as Explanation
    from ._api.plan import Globs as Globs
    from ._api.plan import Plan as Plan
    from ._api.plan import explain as explain
    from ._api.plan import plan as plan
    from ._api.rank import export as export
    from ._api.rank import performance_profiles as performance_profiles
    from ._api.rank import rank as rank
    from ._api.rank import results_frame as results_frame
    from ._api.rank import sample_efficiency as sample_efficiency
    from ._api.report import report as report
    from ._api.reproduce import Reproduction as Reproduction
    from ._api.reproduce import reproduce as reproduce
    from ._api.reproduce import show as show
    from ._api.run import OnDone as OnDone
    from ._api.run import OnStart as OnStart
    from ._api.run import Results as Results
    from ._api.run import run as run
    from .planner import LeftOut as LeftOut
    from .planner import Run as Run
    from .planner.rules import Reason as Reason
    from .rank import Curve as Curve
    from .rank import Entry as Entry
    from .rank import Leaderboard as Leaderboard
    from .results import Outcome as Outcome
    from .results import Record as Record

__version__ = "0.1.0"

_LAZY = {
    "._api.aibom": ("aibom",),
    "._api.plan": ("Explanation", "Globs", "Plan", "explain", "plan"),
    "._api.rank": ("export", "performance_profiles", "rank", "results_frame", "sample_efficiency"),
    "._api.report": ("report",),
    "._api.reproduce": ("Reproduction", "reproduce", "show"),
    "._api.run": ("OnDone", "OnStart", "Results", "run"),
    ".planner": ("LeftOut", "Run"),
    ".planner.rules": ("Reason",),
    ".rank": ("Curve", "Entry", "Leaderboard"),
    ".results": ("Outcome", "Record"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}
__all__ = ["InvalidInput", "MissingExtra", "SaibenchError", "StoreError", "UsageError", *_MODULE_OF]


def __getattr__(name: str) -> _typing.Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(_types.ModuleType):
    # `rank` is the function, as when the names were imported eagerly: the import system
    # would set it to the `saibench_core.rank` subpackage when that is first imported
    # (`report` likewise)
    def __setattr__(self, name: str, value: object) -> None:
        if name in ("rank", "report") and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
