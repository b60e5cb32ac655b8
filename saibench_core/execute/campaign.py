"""A campaign: every run of a plan, isolated, committed as each finishes, resumable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from ..discovery import Catalog
from ..errors import UsageError
from ..planner import Run
from ..results import Outcome, Store
from . import executors
from .isolate import PodOptions


def run_key(catalog: Catalog, run: Run) -> str:
    """A hash of everything that decides a run's outcome: the run itself and the version
    and source hash of each module it uses."""
    fingerprints = []
    for kind, name in run.modules():
        desc = catalog.get(kind, name)
        fingerprints.append([kind, name, desc.version if desc else None, desc.source_hash if desc else None])
    blob = json.dumps([run.to_json(), fingerprints], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_campaign(
    catalog: Catalog, runs: Sequence[Run], store: Store, *, jobs: int = 1, options: PodOptions | None = None,
    executor: str = "local", address: str | None = None, on_done: Callable[[Run, Outcome | None], None] = lambda run, outcome: None,
) -> dict[str, int]:
    """Execute the runs not yet in ``store``, ``jobs`` pods at a time.

    ``on_done(run, outcome)`` is called after each run is committed (``outcome`` is ``None``
    for a run skipped because the store already has it). Returns counts by status.
    """
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    pending = []
    for run in runs:
        key = run_key(catalog, run)
        if store.done(key):
            counts["skipped"] += 1
            on_done(run, None)
        else:
            pending.append((key, run))
    options = options or PodOptions()
    if executor == "dask":
        finished = executors.dask(pending, workers=jobs, options=options, address=address)
    elif executor == "local":
        finished = executors.local(pending, workers=jobs, options=options)
    else:
        raise UsageError(f"unknown executor {executor!r}; choose one of {', '.join(executors.EXECUTORS)}")
    for key, run, outcome in finished:
        store.put(key, run, outcome)
        counts[outcome.status] += 1
        on_done(run, outcome)
    return counts
