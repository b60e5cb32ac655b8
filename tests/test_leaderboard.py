"""Leaderboards over synthetic records: order around NaN, failed repetitions, medians,
repetitions over seeds and splits, selection on validation, standard JSON."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from saibench_standard import rankings

from saibench_core.discovery import Descriptor
from saibench_core.planner import Run
from saibench_core.rank import Entry, leaderboard, restrict
from saibench_core.results import Record
from saibench_core.results.export import decode, json_safe

NAN, INF = float("nan"), float("inf")


def ranking(fn: Any) -> Descriptor:
    """A bundled ranking module as discovery describes it."""
    return Descriptor(fn.__name__, "ranking", "standard", "0", fn.__sail__, doc=fn.__doc__ or "", fn=fn)


BY_MAE, BY_ACCURACY, PER_TIME = ranking(rankings.by_mae), ranking(rankings.by_accuracy), ranking(rankings.accuracy_per_time)


def run(model: str = "mlp", *, seed: int = 0, split: int = 0, width: int = 64, trainer: str = "adam", problem: str = "digits") -> Run:
    return Run(problem, model, trainer, "jax-float32", "cpu", (), 0.0, {}, {"model": {"width": width}, "trainer": {"lr": 0.003}},
               ("accuracy", "train_time", "mae"), ("by_accuracy", "accuracy_per_time", "by_mae"),
               seed=seed, split=split, dataset_checksum=f"sha-of-split-{split}")


def record(r: Run, metrics: Mapping[str, float] | None = None, *, failed: str = "", **details: Any) -> Record:
    key = f"{r.model}-{r.trainer}-{r.hyper['model']['width']}-{r.seed}-{r.split}"
    return Record(key, r, "failed" if failed else "ok", failed, dict(metrics or {}), details, 1.0)


def test_mae_ranks_finite_values_lowest_first_and_nan_last_unranked() -> None:
    records = [record(run(f"m{i}"), {"mae": v}) for i, v in enumerate([0.5, NAN, 0.1, 2.0])]
    board = leaderboard(BY_MAE, records)
    assert [e.run.model for e in board.entries] == ["m2", "m0", "m3", "m1"]
    assert [e.place for e in board.entries] == [1, 2, 3, None]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=1, max_size=12), st.booleans())
def test_finite_entries_are_sorted_by_goal_and_the_rest_follow_in_stored_order(maes: list[float], accuracy: bool) -> None:
    metric, desc, sign = ("accuracy", BY_ACCURACY, -1.0) if accuracy else ("mae", BY_MAE, 1.0)
    board = leaderboard(desc, [record(run(f"m{i}"), {metric: v}) for i, v in enumerate(maes)])
    shown = [e.records[0].metrics[metric] for e in board.entries]
    finite = [v for v in maes if math.isfinite(v)]
    assert shown[:len(finite)] == sorted(finite, key=lambda v: sign * v)
    assert [e.place for e in board.entries[:len(finite)]] == list(range(1, len(finite) + 1))
    rest = board.entries[len(finite):]
    assert all(e.place is None for e in rest)
    assert [int(e.run.model[1:]) for e in rest] == [i for i, v in enumerate(maes) if not math.isfinite(v)]


def test_failed_seeds_are_counted_listed_and_flag_the_configuration() -> None:
    accuracies = [0.97, 0.30, 0.96, 0.20, 0.95]
    records = [record(run(seed=s), {"accuracy": a}) if s % 2 == 0 else
               record(run(seed=s), failed=f"sanity_accuracy = {a} is below its hard-fail threshold 0.5", kept_metrics={"accuracy": a})
               for s, a in enumerate(accuracies)]
    clean = [record(run("linear", seed=s), {"accuracy": 0.90}) for s in range(5)]
    gone = [record(run("cnn", seed=s), failed="timed out after 600 s") for s in range(5)]
    board = leaderboard(BY_ACCURACY, records + clean + gone)
    top, second, last = board.entries
    assert (top.run.model, top.place, top.flagged) == ("mlp", 1, True)
    assert len(top.records) == 3 and [r.run.seed for r in top.failed] == [1, 3]
    assert top.metrics["accuracy"] == statistics.median([0.97, 0.96, 0.95])
    shown = top.to_json()
    assert shown["ok"] == 3 and shown["flagged"] and "failed ones listed" in shown["ranked_on"]
    assert shown["failed"] == [{"seed": 1, "split": 0, "reason": records[1].reason, "kept_metrics": {"accuracy": 0.30}},
                               {"seed": 3, "split": 0, "reason": records[3].reason, "kept_metrics": {"accuracy": 0.20}}]
    assert shown["seeds"] == [0, 1, 2, 3, 4]
    assert (second.run.model, second.place, second.flagged) == ("linear", 2, False)
    assert (last.run.model, last.place, len(last.failed), last.records) == ("cnn", None, 5, ())


def test_aggregates_are_medians_over_ok_repetitions_and_the_score_is_of_the_medians() -> None:
    rng = np.random.default_rng(0)
    acc, time = rng.uniform(0.7, 0.99, 5), np.array([100.0, 1.0, 10.0, 3.0, 30.0])
    memory = np.array([NAN, 5.0, NAN, 7.0, 9.0])  # not measured on some repetitions
    reached = np.array([INF, 2.0, INF, INF, 1.0])  # never reached on most
    records = [record(run(seed=s), {"accuracy": acc[s], "train_time": time[s], "memory": memory[s], "t95": reached[s]})
               for s in range(5)]
    (entry,) = leaderboard(PER_TIME, records).entries
    assert entry.metrics["accuracy"] == pytest.approx(np.median(acc))
    assert entry.metrics["memory"] == pytest.approx(np.nanmedian(memory))
    assert entry.spread["memory"] == (np.nanmin(memory), np.nanmax(memory))
    assert entry.metrics["t95"] == np.median(reached) == INF
    per_rep = acc - 0.02 * np.log10(time)
    assert entry.scores == pytest.approx(per_rep)
    assert entry.score_range == pytest.approx((per_rep.min(), per_rep.max()))
    assert entry.score == pytest.approx(np.median(acc) - 0.02 * np.log10(np.median(time)))
    assert entry.score != pytest.approx(np.median(per_rep))  # a median of scores is not the score of the medians


def test_not_measured_ranking_metric_is_unranked_not_scored() -> None:
    records = [record(run("a"), {"accuracy": 0.9, "train_time": NAN}), record(run("b"), {"accuracy": 0.5, "train_time": 1.0})]
    board = leaderboard(PER_TIME, records)
    assert [(e.run.model, e.place) for e in board.entries] == [("b", 1), ("a", None)]
    assert math.isnan(board.entries[1].score)


def test_repetitions_over_seeds_and_splits_are_one_configuration_and_say_what_varied() -> None:
    both = [record(run(seed=i, split=i), {"accuracy": 0.9}) for i in range(5)]
    seeds = [record(run("linear", seed=i), {"accuracy": 0.8}) for i in range(3)]
    splits = [record(run("cnn", split=i), {"accuracy": 0.7}) for i in [0, 2, 5]]
    entries = {e.run.model: e for e in leaderboard(BY_ACCURACY, both + seeds + splits).entries}
    assert entries["mlp"].seeds == entries["mlp"].splits == (0, 1, 2, 3, 4)
    assert entries["mlp"].varied == "5 repetitions: seeds 0–4, splits 0–4"
    assert entries["linear"].varied == "3 repetitions, seeds only: seeds 0–2, split 0"
    assert entries["cnn"].to_json()["varied"] == "3 repetitions, splits only: seed 0, splits 0, 2, 5"


def test_a_repetition_stored_again_counts_once_with_its_latest_result() -> None:
    old, new = record(run(), {"accuracy": 0.5}), record(run(), {"accuracy": 0.9})
    (entry,) = leaderboard(BY_ACCURACY, [old, attrs.evolve(new, key="other-cache-key")]).entries
    assert len(entry.repetitions) == 1 and entry.metrics["accuracy"] == 0.9


def test_only_a_campaigns_runs_are_kept() -> None:
    mine, other = run(seed=1), run("linear", problem="wine")
    records = [record(run(seed=0), {"accuracy": 0.1}), record(mine, {"accuracy": 0.2}), record(other, {"accuracy": 0.3})]
    assert [r.run for r in restrict(records, [mine])] == [mine]


def test_tuned_chooses_the_grid_point_on_validation_and_shows_its_test_values() -> None:
    def point(width: int, test: float, validation: float | None, trainer: str = "adam") -> list[Record]:
        extra = {} if validation is None else {"validation_metrics": {"accuracy": validation}}
        return [record(run(width=width, seed=s, trainer=trainer), {"accuracy": test}, **extra) for s in range(3)]

    records = point(64, 0.99, 0.80) + point(256, 0.90, 0.95) + point(16, 0.50, None) + point(64, 0.7, 0.7, "sgd")
    assert len(leaderboard(BY_ACCURACY, records).entries) == 4  # every grid point is its own row
    board = leaderboard(BY_ACCURACY, records, tuned=True)
    chosen = {(e.run.trainer, e.run.hyper["model"]["width"]): e for e in board.entries}
    assert set(chosen) == {("adam", 256), ("sgd", 64)}
    assert chosen["adam", 256].metrics["accuracy"] == 0.90 and chosen["adam", 256].validation_score == 0.95
    assert chosen["adam", 256].to_json()["validation_score"] == 0.95
    assert board.tuned and any("validation" in n for n in board.notes)
    assert any("1 grid point(s) left out: no validation metrics" in n for n in board.notes)


def test_entry_json_keeps_never_reached_and_not_measured_apart() -> None:
    (entry,) = leaderboard(BY_ACCURACY, [record(run(), {"accuracy": 0.9, "t95": INF, "device_memory": NAN})]).entries
    assert isinstance(entry, Entry)
    text = json.dumps(json_safe(entry.to_json()), allow_nan=False)
    metrics = json.loads(text)["metrics"]
    assert metrics["t95"] == "Infinity" and metrics["device_memory"] is None
    assert decode(metrics["t95"]) == INF and math.isnan(decode(metrics["device_memory"])) and decode(0.9) == 0.9


def test_bundled_rankings_score_higher_for_better_values_by_each_metrics_goal() -> None:
    from saibench_standard import metrics

    for desc in (BY_ACCURACY, BY_MAE, PER_TIME):
        base = {m: 1.0 for m in desc.spec.metrics}
        for m in desc.spec.metrics:
            goal = getattr(metrics, m).__sail__.goal
            better = {**base, m: 2.0 if goal == "max" else 0.5}
            assert desc.fn(better) > desc.fn(base), (desc.name, m)
