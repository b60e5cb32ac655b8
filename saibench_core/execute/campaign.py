"""A campaign: every run of a plan, isolated, committed as each finishes, resumable."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from ..discovery import Catalog
from ..errors import UsageError
from ..planner import Run
from ..results import Outcome, Store
from . import executors
from .isolate import PodOptions
from .key import RunKeys
from .probe import Point, probe_all, unloadable


def run_campaign(
    catalog: Catalog, runs: Sequence[Run], store: Store, *, jobs: int = 1, options: PodOptions | None = None,
    executor: str = "local", address: str | None = None, on_done: Callable[[Run, Outcome | None], None] = lambda run, outcome: None,
) -> dict[str, int]:
    """Execute the runs not yet in ``store``, ``jobs`` pods at a time.

    First each distinct problem point's dataset checksum is measured in a pod and set on its
    runs, since it is part of their keys; the runs of a problem whose data cannot be loaded
    are stored as failed (a later campaign retries them).

    Each run is claimed in the store before it is started, so two runners on one database
    never train the same run twice (a claim of a runner that died is void).

    ``on_done(run, outcome)`` is called after each run is committed (``outcome`` is ``None``
    for a run skipped because the store already has it or another runner holds it).
    Returns counts by status.
    """
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    options = options or PodOptions()
    if executor not in executors.EXECUTORS:
        raise UsageError(f"unknown executor {executor!r}; choose one of {', '.join(executors.EXECUTORS)}")
    keys = RunKeys(catalog)
    pending = []
    for key, run, unloaded in with_checksums(catalog, runs, options, jobs, keys):
        if not store.claim(key):  # stored ok already, or another live runner is training it
            counts["skipped"] += 1
            on_done(run, None)
        elif unloaded is not None:
            store.put(key, run, unloaded)  # put also drops the claim
            counts["failed"] += 1
            on_done(run, unloaded)
        else:
            pending.append((key, run))
    unfinished = {key for key, _ in pending}
    try:
        if executor == "dask":
            finished = executors.dask(pending, workers=jobs, options=options, address=address)
        else:
            finished = executors.local(pending, workers=jobs, options=options)
        for key, run, outcome in finished:
            store.put(key, run, outcome)  # drops the claim; never replaces an ok row
            unfinished.discard(key)
            counts[outcome.status] += 1
            on_done(run, outcome)
    finally:
        store.release(*unfinished)  # an error or Ctrl-C frees what never ran
    return counts


def with_checksums(catalog: Catalog, runs: Sequence[Run], options: PodOptions, jobs: int,
                    keys: RunKeys) -> list[tuple[str, Run, Outcome | None]]:
    """Each run with its dataset checksum measured (one probe pod per distinct problem
    point, ``jobs`` at a time) and its key; for a run whose problem could not load its
    data, the failed outcome to store instead (keyed without a checksum)."""
    takes_split = {d.name: d.takes_split_seed for d in catalog.of("problem")}
    points = [Point.of(run, takes_split.get(run.problem, False)) for run in runs]
    probed = probe_all(points, options, workers=jobs)
    out: list[tuple[str, Run, Outcome | None]] = []
    for run, point in zip(runs, points, strict=True):
        outcome = probed[point]
        if outcome.status != "ok":
            out.append((keys(run), run, unloadable(point, outcome)))
            continue
        run = attrs.evolve(run, dataset_checksum=str(outcome.details["dataset_checksum"]))
        out.append((keys(run), run, None))
    return out
