"""Executors: where pods run. Each yields ``(key, run, outcome)`` as runs finish.

- ``local``: a thread per concurrent pod on this machine (``-j N``); the pods themselves
  are processes.
- ``dask``: each run is a Dask task that starts its pod on a worker, so campaigns reach a
  cluster (``--address tcp://scheduler:8786``; with ``dask-jobqueue`` a SLURM or PBS one)
  or a ``LocalCluster`` of ``-j N`` worker processes when no address is given. Pods keep
  their isolation either way; workers must be allowed to start processes
  (``distributed.worker.daemon: false``, set here for local clusters).

Both turn an exception raised while starting or collecting a pod (the fork server gone, a
lost worker) into a failed outcome with its reason, so one run's trouble never ends a
campaign.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from ..errors import UsageError
from ..planner import Run
from ..results import Outcome
from .batch import groups, run_group
from .isolate import PodOptions, interrupt

Job = tuple[str, Run]
EXECUTORS = ("local", "dask")


def launch_failed(where: str, exc: BaseException) -> Outcome:
    """The failed outcome of a run whose pod could not be started or collected."""
    return Outcome("failed", reason=f"{where} failed: {type(exc).__name__}: {exc}")


def _each(group: Sequence[Job], future: Any, where: str) -> Iterator[tuple[str, Run, Outcome]]:
    """Each job of a finished group with its outcome; a group whose pod could not be started
    or collected fails each of its runs with that reason."""
    try:
        outcomes = future.result()
    except Exception as exc:  # noqa: BLE001 - a pod that cannot start fails its runs, not the campaign
        outcomes = [launch_failed(where, exc)] * len(group)
    for (key, run), outcome in zip(group, outcomes, strict=True):
        yield key, run, outcome


def local(jobs: Sequence[Job], *, workers: int, options: PodOptions) -> Iterator[tuple[str, Run, Outcome]]:
    """Run pods from a thread pool of ``workers``, the repetitions of a configuration in one
    (``batch.groups``)."""
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        futures = {pool.submit(run_group, group, options): group for group in groups(jobs, workers, options.batch)}
        try:
            for future in as_completed(futures):
                yield from _each(futures[future], future, "pod launch")
        except BaseException:  # Ctrl-C, or the campaign stopped: pods lead their own sessions, stop them here
            pool.shutdown(wait=False, cancel_futures=True)
            interrupt()
            raise


def dask(jobs: Sequence[Job], *, workers: int, options: PodOptions, address: str | None = None) -> Iterator[tuple[str, Run, Outcome]]:
    """Run pods as Dask tasks on the cluster at ``address``, or on a ``LocalCluster``."""
    try:
        import dask as dask_core
        from distributed import Client, LocalCluster
        from distributed import as_completed as completed
    except ImportError:
        raise UsageError("the dask executor needs dask.distributed: pip install 'saibench[dask]'") from None
    with dask_core.config.set({"distributed.worker.daemon": False}):
        cluster: Any = None
        if address is None:
            cluster = LocalCluster(n_workers=max(workers, 1), threads_per_worker=1, processes=True, dashboard_address=None,  # type: ignore[no-untyped-call]
                                   silence_logs=logging.ERROR)
        try:
            with Client(address or cluster, timeout="10s") as client:  # type: ignore[no-untyped-call]
                futures = {client.submit(run_group, group, options, pure=False, key=f"saibench-run-{group[0][0]}"): group
                           for group in groups(jobs, workers, options.batch)}
                for future in completed(futures):  # type: ignore[no-untyped-call]
                    yield from _each(futures[future], future, "dask worker")  # a lost worker fails its runs, not the campaign
        except OSError as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}; check --address (tcp://host:8786)") from None
        finally:
            if cluster is not None:
                cluster.close()
