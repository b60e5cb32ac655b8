"""Looking into one stored run, and executing it again: ``results show``, ``reproduce``."""

from __future__ import annotations

from pathlib import Path

import attrs

from ..discovery import Catalog, load_catalog
from ..errors import UsageError
from ..planner import Run
from ..planner.rules import FIT
from ..rank.repetitions import configuration
from ..results import Record
from ..results.integrity import changed
from ..results.reproduction import TIER_TEXT, Comparison, compare, tier
from . import inputs
from .rank import results_db


def show(key: str, *, db: Path | str | None = None) -> Record:
    """The stored run whose key is ``key`` or starts with it (``saibench results show``):
    its run, status, metrics and details, among them its provenance
    (``details["environment"]``, ``details["fingerprints"]``).

    Raises:
        UsageError: no stored key, or several, start with ``key``.
        StoreError: the database is missing or unreadable.
    """
    with results_db(db) as store:
        return store.find(key)


def _as_computed(record: Record, same: list[Record]) -> tuple[list[tuple[str, Run]], int]:
    """The jobs to execute again so that ``record`` is computed as it was, and its position
    among them: a run trained in a vectorised batch (``details["batch"]``) with the same
    repetitions, in the same order, where the store still has them all; else alone."""
    batch = record.details.get("batch") or {}
    by_repetition = {(r.run.seed, r.run.split): r for r in same}
    members = [by_repetition.get((seed, split)) for seed, split in batch.get("repetitions", ())]
    if not members or any(m is None for m in members) or getattr(members[batch["position"]], "key", None) != record.key:
        return [(record.key, record.run)], 0
    return [(m.key, m.run) for m in members if m is not None], int(batch["position"])


@attrs.frozen
class Reproduction:
    """A stored run executed again (see ``results.reproduction``).

    Attributes:
        record: the stored run.
        tier: ``"bitwise"``, ``"numerical"``, ``"statistical"`` or ``"none"``.
        comparisons: each stored metric against its new value.
        repetitions: how many stored ok repetitions of the configuration the
            statistical tier was judged against (this run's included).
        reason: why the new run failed (``""`` when it did not).
        code_changed: what differs between the code that computed the stored run and the
            code installed now (``None``: nothing, or it cannot be told).
    """

    record: Record
    tier: str
    comparisons: tuple[Comparison, ...]
    repetitions: int
    reason: str = ""
    code_changed: str | None = None

    @property
    def verdict(self) -> str:
        """The tier in words."""
        return TIER_TEXT[self.tier]


def reproduce(key: str, *, db: Path | str | None = None, timeout: float = 600.0, memory_limit: float | None = None,
              catalog: Catalog | None = None) -> Reproduction:
    """Execute a stored run again, in its own process, and say which reproducibility tier
    holds (``saibench reproduce``). Nothing is written to the database.

    Args:
        key: the run's key, or a prefix of it that only it has.
        db: the results database (default: ``results.sqlite`` in the user data directory).
        timeout: seconds before the run is killed.
        memory_limit: MiB of resident memory above which the run is killed.
        catalog: the modules (default: every installed plugin's).

    Raises:
        UsageError: no such run, or it did not succeed (a failed run has no metrics to
            reproduce), or its modules are no longer installed.
        InvalidInput: ``timeout`` or ``memory_limit`` cannot work.
        StoreError: the database is missing or unreadable.
    """
    from .. import execute
    from ..execute.batch import run_group
    from ..execute.key import RunKeys

    inputs.outside_main_import("reproduce")
    timeout = inputs.finite("timeout", timeout, 0, open=True)
    memory_limit = None if memory_limit is None else inputs.finite("memory_limit", memory_limit, 1)
    catalog = load_catalog() if catalog is None else catalog
    with results_db(db) as store:
        record = store.find(key)
        config = configuration(record.run)
        same = [r for r in store.records() if configuration(r.run) == config]
    repetitions = [r.metrics for r in same if r.status == "ok"]
    if record.status != "ok":
        raise UsageError(f"run {record.key[:12]} failed ({record.reason}); only a run that succeeded has metrics to reproduce")
    missing = [f"{kind} {name}" for kind, name in record.run.modules()
               if catalog.get(kind, name) is None and (kind, name) != ("trainer", FIT.name)]  # fit: no module, the method's own
    if missing:
        raise UsageError(f"run {record.key[:12]} uses {', '.join(missing)}, not installed now; install its plugin to reproduce it")
    keys = RunKeys(catalog)
    jobs, position = _as_computed(record, same)
    outcome = run_group(jobs, execute.PodOptions(timeout, memory_limit))[position]
    units = {m.name: m.spec.unit for m in catalog.of("metric")}
    comparisons = compare(record.metrics, outcome.metrics, repetitions, units)
    return Reproduction(record, tier(comparisons, outcome.status == "ok"), tuple(comparisons), len(repetitions),
                        outcome.reason, changed(record, keys))
