"""Dataset probes: the checksum of each problem's data, measured in a pod before a campaign
decides which runs it already has.

A run's key includes its dataset checksum (a changed dataset is a changed run), so the
data must be loaded before any run is skipped. A problem is a plugin's code and may crash
or hang, so it is loaded in a pod like any run, with the campaign's limits, once per
distinct problem point: (problem, its hyperparameters, the split when the problem takes
a ``split_seed``). Every run at a point shares that point's probe. The splits of one
problem and hyperparameters (``--repeat``'s data splits) are probed in one pod, since a
pod's start costs more than loading most datasets; when that pod fails, each split is
probed in its own, so that the failure is told apart from the splits that load.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from ..discovery import Descriptor, load_catalog
from ..planner import Run
from ..results import Outcome
from .batching import chunked, grouped
from .isolate import PodOptions, isolated

SPLIT_SEED = "split_seed"


@attrs.frozen
class Point:
    """A distinct problem point: what decides the data a problem returns."""

    problem: str
    hyper: str  # the problem's hyperparameters as sorted JSON, so that points hash
    split: int | None  # None: the problem takes no split_seed, every split loads the same data

    @classmethod
    def of(cls, run: Run, takes_split_seed: bool) -> Point:
        """The point of ``run``'s data."""
        hyper = json.dumps(dict(run.hyper.get("problem", {})), sort_keys=True, default=str)
        return cls(run.problem, hyper, run.split if takes_split_seed else None)


def problem_arguments(desc: Descriptor, hyper: Mapping[str, Any], split: int) -> dict[str, Any]:
    """The keyword arguments a pod calls problem ``desc`` with: its hyperparameters and,
    when it takes one, ``split_seed`` set to the run's split."""
    return {**hyper, SPLIT_SEED: split} if desc.takes_split_seed else dict(hyper)


def _checksums(problem: str, hyper_json: str, splits: list[int]) -> dict[str, Any]:
    """A probe pod's work: load the problem's data at each split; their checksums."""
    from ..data import dataset_checksum, load_problem

    warm = sys.modules.get("saibench_core.execute.warm")  # present when forked from the fork server
    catalog = (warm.catalog() if warm else None) or load_catalog()
    desc = catalog.require("problem", problem)
    return {"dataset_checksums": [dataset_checksum(load_problem(desc, problem_arguments(desc, json.loads(hyper_json), split)))
                                  for split in splits]}


def probe(point: Point, options: PodOptions) -> Outcome:
    """Measure the dataset checksum of one point in a pod (``details["dataset_checksum"]``
    when ``ok``); a problem that raises, crashes, hangs or runs out of memory fails."""
    [outcome] = probe_splits([point], options)
    return outcome


def probe_splits(points: list[Point], options: PodOptions) -> list[Outcome]:
    """Probe points that differ only by split in one pod (its timeout the sum of theirs);
    if that pod fails, each point in its own, so that the failure is the point's."""
    first = points[0]
    together = isolated(_checksums, (first.problem, first.hyper, [p.split or 0 for p in points]),
                        timeout=options.timeout * len(points), memory_limit_mb=options.memory_limit_mb)
    if together.status != "ok":
        return [together] if len(points) == 1 else [probe(point, options) for point in points]
    details = {k: v for k, v in together.details.items() if k != "dataset_checksums"}
    share = together.wall_seconds / len(points)
    return [Outcome("ok", {}, "", {**details, "dataset_checksum": checksum, **({"probed_with": len(points)} if len(points) > 1 else {})},
                    share) for checksum in together.details["dataset_checksums"]]


def probe_all(points: Iterable[Point], options: PodOptions, *, workers: int = 1) -> dict[Point, Outcome]:
    """Probe each distinct point, ``workers`` pods at a time, the splits of one problem
    point together (``probe_splits``, ``batching.chunked``)."""
    groups = chunked(grouped(dict.fromkeys(points), lambda point: (point.problem, point.hyper)), workers)
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        probed = pool.map(lambda group: probe_splits(group, options), groups)
        return {point: outcome for group, outcomes in zip(groups, probed, strict=True)
                for point, outcome in zip(group, outcomes, strict=True)}


def unloadable(point: Point, outcome: Outcome) -> Outcome:
    """The failed outcome of each run at a point whose data could not be loaded."""
    where = f" (split {point.split})" if point.split is not None else ""
    reason = (f"problem {point.problem!r} could not load its data{where} with hyperparameters {point.hyper}: "
              f"{outcome.reason}; fix the problem's plugin, then run again (this run is retried then)")
    return Outcome("failed", {}, reason, {"stage": "dataset probe", **outcome.details}, outcome.wall_seconds)
