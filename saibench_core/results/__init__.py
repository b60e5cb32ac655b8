"""Results: the SQLite store."""

from .claims import Claim as Claim
from .outcome import Outcome as Outcome
from .store import SEED_MAX as SEED_MAX
from .store import Record as Record
from .store import Store as Store
from .store import default_path as default_path
