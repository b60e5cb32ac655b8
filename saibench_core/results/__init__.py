"""Results: the SQLite store."""

from .outcome import Outcome as Outcome
from .store import Record as Record
from .store import Store as Store
from .store import default_path as default_path
