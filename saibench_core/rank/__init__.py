"""Rankings: leaderboards projected from stored results."""

from .efficiency import Curve as Curve
from .efficiency import budgets as budgets
from .efficiency import curves as curves
from .efficiency_table import efficiency_tables as efficiency_tables
from .leaderboard import REFERENCES as REFERENCES
from .leaderboard import Entry as Entry
from .leaderboard import Leaderboard as Leaderboard
from .leaderboard import leaderboard as leaderboard
from .leaderboard import leaderboards as leaderboards
from .repetitions import configuration as configuration
from .repetitions import restrict as restrict
from .table import hyper_items as hyper_items
from .table import number as number
from .table import tables as tables
