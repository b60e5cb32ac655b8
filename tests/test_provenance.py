"""Provenance, store integrity and reproducibility tiers (issue 12, items 6, 8 and 9)."""

from __future__ import annotations

import json
import math
import sqlite3
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import saibench_core as sb
from saibench_core import cli
from saibench_core.discovery import Catalog
from saibench_core.errors import UsageError
from saibench_core.execute.key import RunKeys
from saibench_core.results import Outcome, Record, Store
from saibench_core.results.integrity import check
from saibench_core.results.reproduction import ATOL, RTOL, Comparison, compare, measured, prediction_interval, tier


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> tuple[Path, list[Record]]:
    """Two real repetitions of a quick configuration, run and stored as `saibench run` does."""
    db = tmp_path_factory.mktemp("provenance") / "results.sqlite"
    results = sb.run(sb.plan(problem="wine", model="linear", repeat=2, catalog=catalog), db=db, catalog=catalog)
    assert results.counts["ok"] == 2
    return db, list(results.records)


def test_a_run_records_its_environment_and_the_code_its_key_was_made_of(stored: tuple[Path, list[Record]],
                                                                        catalog: Catalog) -> None:
    db, records = stored
    key = records[0].key
    done = CliRunner().invoke(cli.main, ["results", "show", key[:10], "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.output)
    env, prints = shown["details"]["environment"], shown["details"]["fingerprints"]
    assert shown["key"] == key and shown["run"]["seed"] == records[0].run.seed
    assert env["distributions"]["saibench"] == "0.1.0" and "jax" in env["distributions"] and env["python"]
    assert env["jax"]["backend"] == "cpu" and env["jax"]["devices"][0]["platform"] == "cpu"
    assert env["cpu"]["model"] and env["memory_mib"] > 0 and env["jax"]["compilation_cache"]
    assert shown["details"]["timing"]["compile_cache"] in ("hit", "miss", "off", "unknown")
    assert shown["details"]["dataset_checksum"] == records[0].run.dataset_checksum
    assert prints == json.loads(json.dumps(RunKeys(catalog).fingerprints(records[0].run)))
    linear = catalog.get("model", "linear")
    assert linear is not None and prints["modules"][1][:4] == ["model", "linear", linear.version, linear.source_hash]
    text = CliRunner().invoke(cli.main, ["results", "show", key[:10], "--db", str(db)]).output
    for part in ("environment", "installed distributions", "code (fingerprints", "dataset checksum", "linear"):
        assert part in text


def test_reproduce_reruns_a_stored_run_and_finds_it_bitwise_identical(stored: tuple[Path, list[Record]]) -> None:
    db, records = stored
    done = CliRunner().invoke(cli.main, ["reproduce", records[0].key[:12], "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.output)
    assert shown["tier"] == "bitwise" and shown["repetitions"] == 2 and shown["code_changed"] is None
    by_name = {m["metric"]: m for m in shown["metrics"]}
    assert by_name["accuracy"]["tier"] == "bitwise" and not by_name["accuracy"]["measurement"]
    assert by_name["train_time"]["measurement"]  # a time: shown, deciding nothing
    with Store.open_readonly(db) as store:
        assert len(list(store.records())) == 2  # nothing stored


def test_reproduce_reruns_a_fitted_method_whose_trainer_is_no_module(tmp_path: Path, catalog: Catalog) -> None:
    db = tmp_path / "fitted.sqlite"
    plan = sb.plan(problem="digits", model="knn", grid={"knn.neighbours": [1]}, catalog=catalog)
    [record] = sb.run(plan, db=db, catalog=catalog).records
    assert record.run.trainer == "fit"
    done = sb.reproduce(record.key, db=db, catalog=catalog)
    assert done.tier == "bitwise" and done.reason == ""


def test_a_leaderboard_leaves_out_runs_of_other_code_and_says_how_many(stored: tuple[Path, list[Record]], tmp_path: Path,
                                                                       catalog: Catalog) -> None:
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(stored[0]) as source, sqlite3.connect(db) as target:
        source.backup(target)
    with sqlite3.connect(db) as edit:  # one repetition computed by an older `linear`
        key, details = edit.execute("SELECT key, details FROM runs ORDER BY finished_at LIMIT 1").fetchone()
        changed = json.loads(details)
        changed["fingerprints"]["modules"][1][2] = "0.0.9"
        edit.execute("UPDATE runs SET details = ? WHERE key = ?", (json.dumps(changed), key))
    [board] = sb.rank(db=db, ranking="by_accuracy", catalog=catalog)
    [entry] = board.entries
    assert len(entry.records) == 1 and entry.records[0].key != key
    assert any("1 stale result(s) left out" in note and "model linear 0.0.9 -> 0.1.0" in note for note in board.notes)
    done = CliRunner().invoke(cli.main, ["reproduce", key[:12], "--db", str(db)])
    assert "the code changed since the run was stored (model linear 0.0.9 -> 0.1.0)" in " ".join(done.output.split())


class Installed:
    """What `check` compares against: one module at version 1, the engine at "e1"."""

    shared = {"engine": {"core": "e1"}, "libraries": {"jax": "1"}, "plugins": []}

    def module(self, kind: Any, name: str) -> list[Any]:
        return [kind, name, "1", "src", "pkg"] if name != "gone" else [kind, name, None, None, None]


def _record(key: str, modules: list[list[Any]] | None, engine: str = "e1", jax: str = "1") -> Record:
    run = next(iter(sb.plan(problem="wine", model="linear")))
    details = {} if modules is None else {"fingerprints": {"modules": modules, "engine": {"core": engine},
                                                           "libraries": {"jax": jax}, "plugins": [["other", "d", "2"]]}}
    return Record(key, run, "ok", "", {"accuracy": 0.5}, details, 1.0)


def test_integrity_keeps_current_unknown_and_uninstalled_runs_and_counts_each_stale_one_by_cause() -> None:
    now = ["model", "m", "1", "src", "pkg"]
    records = [_record("current", [now]), _record("unknown", None), _record("gone", [["model", "gone", "1", "a", "b"]]),
               _record("version", [["model", "m", "0", "src", "pkg"]]), _record("source", [["model", "m", "1", "old", "pkg"]]),
               _record("helpers", [["model", "m", "1", "src", "old"]]), _record("engine", [now], engine="e0"),
               _record("jax", [now], jax="0")]
    found = check(records, Installed())
    assert [r.key for r in found.current] == ["current", "unknown", "gone"]
    assert found.stale == Counter({"model m 0 -> 1": 1, "model m's source": 2, "the engine": 1,
                                   "library versions (jax 0 -> 1)": 1})
    note = found.note()
    assert note is not None and note.startswith("5 stale result(s) left out") and "model m's source (2)" in note
    assert check(records[:3], Installed()).note() is None


def test_a_stored_run_is_found_by_its_key_or_a_prefix_only_it_has(tmp_path: Path) -> None:
    run = next(iter(sb.plan(problem="wine", model="linear")))
    with Store(tmp_path / "r.sqlite") as store:
        for key in ("abc123", "abd456", "abd789"):
            store.put(key, run, Outcome("ok", {"accuracy": 0.5}))
    with Store.open_readonly(tmp_path / "r.sqlite") as store:
        assert store.find("abc").key == "abc123" and store.find("ABD4").key == "abd456"
        for bad, says in (("abd", "ambiguous: it starts 2 runs' keys"), ("fff", "no run with key 'fff'"),
                          ("xyz", "'xyz' is not a run key"), ("", "is not a run key")):
            with pytest.raises(UsageError, match=says):
                store.find(bad)


def test_the_prediction_interval_is_the_t_interval_of_one_more_draw() -> None:
    assert prediction_interval([1.0]) is None and prediction_interval([1.0, math.nan]) is None
    low, high = prediction_interval([1.0, 2.0, 3.0])  # type: ignore[misc]
    assert (low, high) == pytest.approx((2 - 4.302652729911275 * math.sqrt(4 / 3), 2 + 4.302652729911275 * math.sqrt(4 / 3)))


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=12))
def test_the_prediction_interval_matches_scipys_t_distribution(values: list[float]) -> None:
    n, mean = len(values), sum(values) / len(values)
    sd = statistics.stdev(values)
    found = prediction_interval(values)
    assert found is not None
    if sd == 0:
        assert found == pytest.approx((mean, mean))
        return
    assert found == pytest.approx(stats.t.interval(0.95, n - 1, loc=mean, scale=sd * math.sqrt(1 + 1 / n)), rel=1e-9, abs=1e-9)


def test_each_tier_is_the_strongest_that_every_result_metric_holds() -> None:
    reps = [{"acc": 0.90, "t": 1.0}, {"acc": 0.92, "t": 1.2}, {"acc": 0.94, "t": 1.1}]
    units = {"t": "s", "acc": ""}
    for now, expected in ((0.92, "bitwise"), (0.92 * (1 + RTOL / 2), "numerical"), (0.925, "statistical"), (0.5, "none")):
        comparisons = compare({"acc": 0.92, "t": 1.2}, {"acc": now, "t": 9.0}, reps, units)
        assert tier(comparisons) == expected, now
        assert [c.measurement for c in comparisons] == [False, True]
    assert tier(compare({"acc": 0.92}, {"acc": 0.92}, reps, units), ok=False) == "none"
    assert tier(compare({"acc": 0.92}, {}, reps, units)) == "none"  # the new run lacks the metric
    assert Comparison("x", math.nan, math.nan, False, None).tier == "bitwise"
    assert Comparison("x", 0.0, -0.0, False, None).tier == "numerical"  # not the same float
    assert Comparison("x", math.inf, math.inf, False, None).tier == "bitwise"
    assert Comparison("x", 1.0, 1.0 + ATOL / 2, False, None).tier in ("numerical", "bitwise")


def test_machine_measurements_are_told_apart_by_unit() -> None:
    assert all(measured(u) for u in ("s", "ms", "MiB", "samples/s", "steps/s", "x EMT"))
    assert not any(measured(u) for u in ("", "dB", "meV/atom", "Å", "steps", "eV"))


@given(st.lists(st.integers(0, 2**34), min_size=1, max_size=2000))
def test_a_runs_cpu_and_memory_trace_is_short_and_keeps_its_peaks(rss: list[int]) -> None:
    from saibench_core.execute.isolate import TRACE_POINTS, Monitor

    monitor = Monitor.__new__(Monitor)
    monitor.rss, monitor.cpu = list(rss), [float(v % 400) for v in rss]
    trace = monitor.summary()["trace"]
    assert 1 <= len(trace["seconds"]) <= TRACE_POINTS and len(trace["seconds"]) == len(trace["rss_mb"]) == len(trace["cpu_percent"])
    assert max(trace["rss_mb"]) == round(max(rss) / 2**20, 1) and max(trace["cpu_percent"]) == max(monitor.cpu)
    assert trace["seconds"] == sorted(trace["seconds"]) and trace["seconds"][0] == 0.0
