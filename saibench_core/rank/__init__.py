"""Rankings: leaderboards projected from stored results."""

from .leaderboard import Entry as Entry
from .leaderboard import Leaderboard as Leaderboard
from .leaderboard import leaderboard as leaderboard
from .leaderboard import leaderboards as leaderboards
