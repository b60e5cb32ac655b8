"""Running pre-training before fine-tuning: the campaign's side of ``Pretrain``.

A fine-tuning run (``Run.start_from``) needs the weights its pre-training run trained. The
campaign adds any pre-training run its plan lacks, runs every run without a dependency
first - pre-training runs save their weights under ``weights_home()`` by run key - and then
the fine-tuning runs, each loading its dependency's file. Both waves go through the same
executor (local pool or Dask), and each run is committed as it finishes, so a campaign
killed between the waves resumes with the second: the pre-training runs are stored and
their weights on disk. A dependency that failed fails its dependents with its reason; one
stored by an earlier campaign whose weights file is gone is run again to remake it (its
stored result is kept).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import platformdirs

from ..planner import Run
from ..results import Outcome

WEIGHTS_ENV = "SAIBENCH_WEIGHTS"


def weights_home() -> Path:
    """Where pre-training runs keep their weights (``SAIBENCH_WEIGHTS`` chooses another)."""
    where = os.environ.get(WEIGHTS_ENV)
    return Path(where) if where else Path(platformdirs.user_data_dir("saibench")) / "weights"


def weights_path(key: str) -> Path:
    """The weights file of the run of key ``key``."""
    return weights_home() / f"{key}.npz"


def _label(run: Run) -> str:
    return json.dumps(run.to_json(), sort_keys=True)


def with_dependencies(runs: Iterable[Run]) -> list[Run]:
    """``runs`` with the pre-training run of each fine-tuning run added where the list lacks
    it (before its first dependent; each once); a list without one is returned as it is."""
    runs = list(runs)
    if not any(run.start_from for run in runs):
        return runs
    out: list[Run] = []
    seen: set[str] = set()
    for run in runs:
        before = run.pretraining
        for item in ((before,) if before is not None else ()) + (run,):
            label = _label(item)
            if label not in seen:
                seen.add(label)
                out.append(item)
    return out


def with_checksum(run: Run, checksums: dict[str, str]) -> Run:
    """A fine-tuning run whose pre-training run carries its measured dataset checksum
    (``checksums`` by the pre-training run's label without one), as the pre-training run's
    own key does."""
    before = run.pretraining
    if before is None:
        return run
    measured = attrs.evolve(before, dataset_checksum=checksums.get(_label(before), ""))
    return attrs.evolve(run, start_from=json.dumps(measured.to_json(), sort_keys=True))


def dependency_failed(run: Run, key: str, why: str) -> Outcome:
    """The failed outcome of a fine-tuning run whose pre-training run (of key ``key``) has no
    weights to give: ``why`` says what happened to it."""
    before = run.pretraining
    assert before is not None
    return Outcome("failed", {}, f"its pre-training run {before.problem} × {before.model_label} ({key[:12]}) {why}; "
                   "fix that run, then run again (this run is retried then)", {"stage": "pre-training"})


def waves(pending: Sequence[tuple[str, Run]]) -> tuple[list[tuple[str, Run]], list[tuple[str, Run]]]:
    """``(runs without a dependency, fine-tuning runs)``."""
    return [job for job in pending if not job[1].start_from], [job for job in pending if job[1].start_from]
