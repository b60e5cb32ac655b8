"""Batch pods: the repetitions of one configuration in one pod.

``--repeat N`` runs a configuration at N seeds (and splits). Each run in its own pod pays
the pod's start, the data's load and the program's compilation N times, for a model that
often trains in a fraction of that; so the campaign gives the repetitions of a configuration
to one pod (``batching.chunked`` keeps ``-j`` pods busy), which prepares each, trains those
that train the same way as one vectorised program (``pod.execute_many``) and evaluates each.

Isolation is kept where it matters: a member that raises fails alone, with its own reason;
when the batch pod itself fails (a crash, one run's time or memory limit), every member is
run again in a pod of its own, so that each failure is the run's own.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..planner import Run
from ..results import Outcome
from .batching import chunked, grouped
from .isolate import PodOptions, failure, isolated, run_pod, save_path

Job = tuple[str, Run]
SHARED = ("monitor", "log_tail", "log_bytes", "killed_processes")
"""What the members of a batch pod share: the pod's monitor summary and its log."""


def _execute_runs(run_jsons: list[dict[str, Any]], saves: list[str | None]) -> dict[str, Any]:
    """A batch pod's work: each member's result, or its failure."""
    from .pod import execute_many

    warm = sys.modules.get("saibench_core.execute.warm")  # present when forked from the fork server
    done = execute_many([Run.from_json(r) for r in run_jsons], warm.catalog() if warm else None, saves)
    members: list[dict[str, Any]] = []
    for member in done:
        if isinstance(member, BaseException):
            reason, details = failure(member)
            members.append({"status": "failed", "reason": reason, "details": details})
        else:
            members.append({"status": "ok", "reason": "", "details": member})
    return {"members": members}


def groups(jobs: Sequence[Job], workers: int, batch: bool = True) -> list[list[Job]]:
    """The jobs by configuration (``rank.repetitions.configuration``: a run less its seed
    and split), chunked so that ``workers`` pods have work (``batching.chunked``); with
    ``batch`` off, each job alone."""
    from ..rank.repetitions import configuration

    if not batch:
        return [[job] for job in jobs]
    return chunked(grouped(jobs, lambda job: configuration(job[1])), workers)


def run_group(jobs: Sequence[Job], options: PodOptions) -> list[Outcome]:
    """Execute the jobs (repetitions of one configuration) in one pod, each its outcome;
    one job runs as ``run_pod``. The pod has one run's limits (time and memory): a batch
    that exceeds them is run again member by member, so that a hanging member costs one
    time limit more, not one per member."""
    if len(jobs) == 1:
        return [run_pod(*jobs[0], options)]
    together = isolated(_execute_runs, ([run.to_json() for _, run in jobs], [save_path(key, options) for key, _ in jobs]),
                        timeout=options.timeout, memory_limit_mb=options.memory_limit_mb)
    if together.status != "ok":  # the pod failed, not a member: each alone, for its own reason
        return [run_pod(key, run, options) for key, run in jobs]
    shared = {k: together.details[k] for k in SHARED if k in together.details}
    together_as = [[run.seed, run.split] for _, run in jobs]  # what `saibench reproduce` runs together again
    share = together.wall_seconds / len(jobs)
    outcomes = []
    for position, member in enumerate(together.details["members"]):
        details = {**member["details"], **shared, "batch": {"members": len(jobs), "position": position, "repetitions": together_as}}
        metrics = details.pop("metrics", {}) if member["status"] == "ok" else {}
        outcomes.append(Outcome(member["status"], metrics, member["reason"], details, share))
    return outcomes
