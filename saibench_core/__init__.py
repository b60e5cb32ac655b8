"""saibench's engine and its typed Python API: plan, run, rank, and results as a table.

    >>> import saibench_core as sb
    >>> plan = sb.plan(problem="wine", model="linear")   # what `saibench solve` lists
    >>> results = sb.run(plan)                           # doctest: +SKIP
    >>> boards = sb.rank(problem="wine")                 # doctest: +SKIP
    >>> frame = results.to_dataframe()                   # doctest: +SKIP

The ``saibench`` command line is a thin layer over these functions. Importing the package is
cheap: JAX is imported only by the stages that run models (inside ``run``'s pods).
"""

from ._api.plan import Explanation as Explanation
from ._api.plan import Globs as Globs
from ._api.plan import Plan as Plan
from ._api.plan import explain as explain
from ._api.plan import plan as plan
from ._api.rank import export as export
from ._api.rank import rank as rank
from ._api.rank import results_frame as results_frame
from ._api.run import OnDone as OnDone
from ._api.run import OnStart as OnStart
from ._api.run import Results as Results
from ._api.run import run as run
from .errors import InvalidInput as InvalidInput
from .errors import MissingExtra as MissingExtra
from .errors import SaibenchError as SaibenchError
from .errors import StoreError as StoreError
from .errors import UsageError as UsageError
from .planner import LeftOut as LeftOut
from .planner import Run as Run
from .planner.rules import Reason as Reason
from .rank import Entry as Entry
from .rank import Leaderboard as Leaderboard
from .results import Outcome as Outcome
from .results import Record as Record

__version__ = "0.1.0"
