"""The planner: feasible runs from module signatures."""

from .compose import Fill as Fill
from .match import Match as Match
from .plan import ROLES as ROLES
from .plan import LeftOut as LeftOut
from .plan import Plan as Plan
from .plan import Planner as Planner
from .plan import Run as Run
from .select import sample as sample
from .select import select as select
