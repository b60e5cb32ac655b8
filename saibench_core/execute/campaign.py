"""A campaign: every run of a plan, isolated, committed as each finishes, resumable."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import attrs

from ..discovery import Catalog
from ..errors import UsageError
from ..planner import Run
from ..results import Outcome, Store
from . import executors, pretraining
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

    Runs that start from a pre-training run's weights (``Run.start_from``) run after every
    other run, their pre-training runs added where the plan lacks them
    (``execute.pretraining``).

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
    for key, run, unloaded in with_checksums(catalog, pretraining.with_dependencies(runs), options, jobs, keys):
        if not store.claim(key):  # stored ok already, or another live runner is training it
            counts["skipped"] += 1
            on_done(run, None)
        elif unloaded is not None:
            store.put(key, run, stamped(unloaded, keys, run))  # put also drops the claim
            counts["failed"] += 1
            on_done(run, unloaded)
        else:
            pending.append((key, run))
    unfinished = {key for key, _ in pending}
    first, second = pretraining.waves(pending)
    before = {key: keys(_pretraining(run)) for key, run in second}
    kept = attrs.evolve(options, keep_weights=frozenset(before.values()))

    def execute(jobs_: Sequence[tuple[str, Run]], store_them: bool = True) -> None:
        if not jobs_:
            return
        if executor == "dask":
            finished = executors.dask(jobs_, workers=jobs, options=kept, address=address)
        else:
            finished = executors.local(jobs_, workers=jobs, options=kept)
        for key, run, outcome in finished:
            if not store_them:  # remade a stored run's weights: its result is stored already
                continue
            store.put(key, run, stamped(outcome, keys, run))  # drops the claim; never replaces an ok row
            unfinished.discard(key)
            counts[outcome.status] += 1
            on_done(run, outcome)

    try:
        execute(first)
        ran = {key for key, _ in first}
        remake = {dep: _pretraining(run) for key, run in second if (dep := before[key]) not in ran and store.done(dep)
                  and not pretraining.weights_path(dep).exists()}
        execute(list(remake.items()), store_them=False)
        ready = []
        for key, run in second:
            dep = before[key]
            why = ("did not succeed (see `saibench results export --status failed`)" if not store.done(dep) else
                   "left no weights file" if not pretraining.weights_path(dep).exists() else "")
            if why:
                outcome = pretraining.dependency_failed(run, dep, why)
                store.put(key, run, stamped(outcome, keys, run))
                unfinished.discard(key)
                counts["failed"] += 1
                on_done(run, outcome)
            else:
                ready.append((key, run))
        execute(ready)
    finally:
        store.release(*unfinished)  # an error or Ctrl-C frees what never ran
    return counts


def stamped(outcome: Outcome, keys: RunKeys, run: Run) -> Outcome:
    """``outcome`` with the fingerprints of the code that computed it (``RunKeys.fingerprints``)."""
    return attrs.evolve(outcome, details={**outcome.details, "fingerprints": keys.fingerprints(run)})


def _pretraining(run: Run) -> Run:
    before = run.pretraining
    assert before is not None
    return before


def with_checksums(catalog: Catalog, runs: Sequence[Run], options: PodOptions, jobs: int,
                    keys: RunKeys) -> list[tuple[str, Run, Outcome | None]]:
    """Each run with its dataset checksum measured (one probe pod per distinct problem
    point, ``jobs`` at a time) and its key; for a run whose problem could not load its
    data, the failed outcome to store instead (keyed without a checksum). A fine-tuning
    run's pre-training run gets its checksum too (``pretraining.with_checksum``), so that
    its key covers the data its weights were trained on."""
    takes_split = {d.name: d.takes_split_seed for d in catalog.of("problem")}
    points = [Point.of(run, takes_split.get(run.problem, False)) for run in runs]
    probed = probe_all(points, options, workers=jobs)
    measured = {json.dumps(run.to_json(), sort_keys=True): str(probed[point].details.get("dataset_checksum", ""))
                for run, point in zip(runs, points, strict=True)} if any(run.start_from for run in runs) else {}
    out: list[tuple[str, Run, Outcome | None]] = []
    for run, point in zip(runs, points, strict=True):
        run = pretraining.with_checksum(run, measured)
        outcome = probed[point]
        if outcome.status != "ok":
            out.append((keys(run), run, unloadable(point, outcome)))
            continue
        run = attrs.evolve(run, dataset_checksum=str(outcome.details["dataset_checksum"]))
        out.append((keys(run), run, None))
    return out
