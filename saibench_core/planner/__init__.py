"""The planner: feasible runs from module signatures."""

from .plan import ROLES as ROLES
from .plan import LeftOut as LeftOut
from .plan import Match as Match
from .plan import Plan as Plan
from .plan import Planner as Planner
from .plan import Run as Run
from .plan import grid as grid
from .select import select as select
