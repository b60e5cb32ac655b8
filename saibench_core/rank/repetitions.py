"""Repetitions: which stored runs are the same configuration, and what varied between them.

A configuration is a run less what a repetition varies: its ``seed`` (initialisation and
shuffling), its ``split`` (the data split) and the ``dataset_checksum`` that follows the split;
a fine-tuning run's pre-training run (``Run.start_from``, of the same seed and split) counts
by its configuration too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..planner import Run
from ..results import Record

VARIED = ("seed", "split", "dataset_checksum")


def _unvaried(run: Run) -> dict[str, Any]:
    spec = run.to_json()
    for name in VARIED:
        spec.pop(name, None)
    if run.pretraining is not None:
        spec["start_from"] = _unvaried(run.pretraining)
    return spec


def configuration(run: Run) -> str:
    """What identifies a configuration across repetitions: the run without its seed and split."""
    return json.dumps(_unvaried(run), sort_keys=True, default=str)


def _untuned(fill: dict[str, Any]) -> dict[str, Any]:
    return {**fill, "hyperparameters": {}, "dims": {}, "fills": [_untuned(f) for f in fill["fills"]]}


def tuning_group(run: Run) -> str:
    """What ``rank --tuned`` chooses a grid point within: the configuration less the model's,
    its fills' and the trainer's hyperparameters (and the dims they bind). A problem's
    hyperparameters define a variant of the problem, so they are kept."""
    spec = _unvaried(run)
    spec["hyperparameters"] = {"problem": spec["hyperparameters"].get("problem", {})}
    spec["dims"] = {}
    spec["fills"] = [_untuned(f) for f in spec["fills"]]
    return json.dumps(spec, sort_keys=True, default=str)


def latest(records: Iterable[Record]) -> list[Record]:
    """One record per repetition (configuration, seed, split): the last stored, so a run
    stored again under a new cache key replaces the old one instead of counting twice."""
    return [rec for _, rec in latest_by_configuration(records)]


def latest_by_configuration(records: Iterable[Record]) -> list[tuple[str, Record]]:
    """``latest``, each record with its ``configuration``."""
    kept: dict[tuple[str, int, int], tuple[str, Record]] = {}
    for rec in records:
        config = configuration(rec.run)
        kept[config, rec.run.seed, rec.run.split] = (config, rec)
    return list(kept.values())


def problem_variant(run: Run) -> str:
    """A problem with its own hyperparameters: what a reference baseline depends on."""
    return json.dumps([run.problem, run.hyper.get("problem", {})], sort_keys=True, default=str)


def references(records: Iterable[Record]) -> dict[str, list[Record]]:
    """The stored reference baselines, by problem variant: one ok record per split that
    carries ``reference_metrics`` (the last stored), since the reference of a problem at a
    split is the same whichever method ran beside it."""
    kept: dict[tuple[str, int], Record] = {}
    for rec in records:
        if rec.status == "ok" and isinstance(rec.details.get("reference_metrics"), dict):
            kept[problem_variant(rec.run), rec.run.split] = rec
    by_variant: dict[str, list[Record]] = {}
    for (variant, _), rec in sorted(kept.items()):
        by_variant.setdefault(variant, []).append(rec)
    return by_variant


def restrict(records: Iterable[Record], runs: Iterable[Run]) -> list[Record]:
    """The records of exactly these runs (a campaign's), whatever else the store holds."""
    wanted = {(configuration(r), r.seed, r.split) for r in runs}
    return [rec for rec in records if (configuration(rec.run), rec.run.seed, rec.run.split) in wanted]


def _numbers(values: Sequence[int]) -> str:
    """``0–4`` for a run of consecutive integers, else ``0, 2, 5``."""
    distinct = sorted(set(values))
    if len(distinct) > 2 and distinct == list(range(distinct[0], distinct[-1] + 1)):
        return f"{distinct[0]}–{distinct[-1]}"
    return ", ".join(map(str, distinct))


def describe(seeds: Sequence[int], splits: Sequence[int]) -> str:
    """What the repetitions varied, in words: ``5 repetitions: seeds 0–4, splits 0–4``,
    ``3 repetitions, seeds only: seeds 0–2, split 0``, or ``1 run: seed 0, split 0``.

    >>> describe([0, 1, 2], [0, 0, 0])
    '3 repetitions, seeds only: seeds 0–2, split 0'
    """
    n, many_seeds, many_splits = len(seeds), len(set(seeds)) > 1, len(set(splits)) > 1
    seed_part = f"seed{'s' if many_seeds else ''} {_numbers(seeds)}"
    split_part = f"split{'s' if many_splits else ''} {_numbers(splits)}"
    if n <= 1:
        return f"1 run: {seed_part}, {split_part}"
    only = {(True, False): ", seeds only", (False, True): ", splits only"}.get((many_seeds, many_splits), "")
    return f"{n} repetitions{only}: {seed_part}, {split_part}"
