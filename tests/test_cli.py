"""The command line end to end, as a user runs it (real subprocesses, real training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from . import fake_plugin


def saibench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, timeout=600)


def test_solve_json_lists_mlp_on_digits_through_flatten_without_importing_jax() -> None:
    code = ("import sys; from saibench_core.cli import main; sys.argv = ['saibench', 'solve', '--json']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('jax imported' if 'jax' in sys.modules else 'jax not imported', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "jax not imported" in done.stderr
    runs = json.loads(done.stdout)
    mlp = [r for r in runs if r["problem"] == "digits" and r["model"] == "mlp"]
    assert mlp and all(r["chain"] == ["flatten"] for r in mlp)
    assert {r["hardware"] for r in runs} == {"cpu"}
    assert {"problem", "model", "trainer", "software", "hardware", "chain", "hyperparameters"} <= runs[0].keys()


def test_solve_all_says_why_gpu_is_left_out() -> None:
    payload = json.loads(saibench("solve", "--json", "--all").stdout)
    reasons = {tuple(lo["modules"]): lo["reason"] for lo in payload["left_out"]}
    assert "raised Fail:" in reasons[("hardware gpu",)]


def test_tutorial_plugin_meets_existing_models() -> None:
    runs = json.loads(saibench("solve", "--json", "--problem", "wine").stdout)
    assert {r["model"] for r in runs} == {"mlp", "linear", "knn", "logistic_regression"}
    assert all(r["chain"] == [] for r in runs) and "balanced_accuracy" in runs[0]["metrics"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("solve", "--model", "nosuchmodel"), "no model matches 'nosuchmodel'"),
        (("rank", "--db", "/etc/passwd"), "cannot open results database '/etc/passwd'"),
        (("run", "--db", "/etc/passwd/results.sqlite"), "cannot open results database"),
        (("run", "-j", "0"), "Invalid value for '-j' / '--jobs': 0 is not in the range x>=1"),
        (("run", "--timeout", "nan"), "'--timeout': 'nan' is not a finite number > 0"),
        (("solve", "--max-chain", "-1"), "'--max-chain': -1 is not in the range x>=0"),
        (("run", "--address", "not a url"), "--address 'not a url' is not a Dask scheduler address"),
        (("results", "export", "--format", "csv", "-o", "/no/such/dir/x.csv"), "the folder '/no/such/dir' does not exist"),
        (("rank", "--no-such-option"), "No such option '--no-such-option'"),
    ],
)
def test_bad_input_gets_one_line_and_status_2(args: tuple[str, ...], needle: str) -> None:
    done = saibench(*args)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_run_then_rank_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "results.sqlite")
    done = saibench("run", "--db", db, "--problem", "digits", "--model", "mlp", "-j", "2")
    assert done.returncode == 0, done.stderr
    assert "ranking by_accuracy" in done.stdout
    boards = json.loads(saibench("rank", "--db", db, "--json").stdout)
    best = boards["by_accuracy"][0]
    assert best["model"] == "mlp" and best["metrics"]["accuracy"] >= 0.95
    assert len(boards["by_accuracy"]) == 2
    assert boards["accuracy_per_time"][0]["metrics"]["train_time"] > 0
    again = saibench("run", "--db", db, "--problem", "digits", "--model", "mlp")
    assert "0 ok, 0 failed, 2 already stored" in again.stderr


def test_malformed_installed_plugin_is_named_and_the_rest_still_plan(tmp_path: Path) -> None:
    env = fake_plugin.install(tmp_path, "broken", "import no_such_dependency\n")
    listed = subprocess.run([sys.executable, "-m", "saibench_core", "plugins"], capture_output=True, text=True, env=env)
    assert listed.returncode == 2 and "Traceback" not in listed.stderr
    assert "plugin 'broken': cannot import 'saibench_broken': ModuleNotFoundError" in listed.stderr
    assert "SAIBENCH_BLOCK_PLUGINS=broken" in listed.stderr and "vision" in listed.stdout
    solved = subprocess.run([sys.executable, "-m", "saibench_core", "solve", "--json"], capture_output=True, text=True, env=env)
    assert solved.returncode == 0 and any(r["problem"] == "digits" for r in json.loads(solved.stdout))
    blocked = subprocess.run([sys.executable, "-m", "saibench_core", "plugins"], capture_output=True, text=True,
                             env={**env, "SAIBENCH_BLOCK_PLUGINS": "broken"})
    assert blocked.returncode == 0 and blocked.stderr == ""


def test_count_field_and_max_runs() -> None:
    assert saibench("solve", "--count").stdout.strip() == str(len(json.loads(saibench("solve", "--json").stdout)))
    chem = json.loads(saibench("solve", "--json", "--field", "chemistry").stdout)
    assert {r["problem"] for r in chem} == {"wine", "md_bulk", "md_cluster"}
    picked = [json.loads(saibench("solve", "--json", "--max-runs", "2", "--seed", "5").stdout) for _ in range(2)]
    assert picked[0] == picked[1] and len(picked[0]) == 2
    bad = saibench("solve", "--field", "astro*")
    assert bad.returncode == 2 and "installed fields: chemistry, medicine, microscopy, tutorial, vision" in bad.stderr


def test_explain_names_every_reason_as_json() -> None:
    done = saibench("explain", "--problem", "atom_energies", "--model", "mlp", "--json")
    (entry,) = json.loads(done.stdout)
    assert not entry["feasible"]
    assert {r["requirement"] for r in entry["reasons"]} == {"task", "output type", "converter chain"}
    listed = saibench("explain")
    assert "hardware gpu: no run" in listed.stdout and "Fail" in listed.stdout


@pytest.mark.slow
def test_the_tutorials_deep_sets_learns_atom_energies_end_to_end(tmp_path: Path) -> None:
    import numpy as np
    from saibench_tutorial.atoms import atom_energies

    db = str(tmp_path / "results.sqlite")
    done = saibench("run", "--db", db, "--problem", "atom_energies")
    assert done.returncode == 0, done.stderr
    entries = json.loads(saibench("rank", "--db", db, "--json").stdout)["by_mae"]
    assert {e["trainer"] for e in entries} == {"adam"}  # the cosine schedule is offered to chemistry only, not tutorials
    entry = entries[0]
    assert entry["model"] == "atom_sets"
    data = atom_energies()
    mean_baseline = float(np.mean(np.abs(data.test.y - data.train.y.mean())))  # ~1.9: predicting the mean
    assert entry["metrics"]["mae"] < 0.3 * mean_baseline


@pytest.mark.slow
def test_repeat_gives_median_and_spread_and_results_export(tmp_path: Path) -> None:
    import csv

    import numpy as np
    import pyarrow.parquet as pq

    db = str(tmp_path / "results.sqlite")
    done = saibench("run", "--db", db, "--problem", "wine", "--model", "linear", "--repeat", "3")
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(saibench("rank", "--db", db, "--json").stdout)["by_accuracy"]
    assert entry["seeds"] == [0, 1, 2]
    assert entry["ok"] == 3 and entry["failed"] == [] and entry["place"] == 1 and entry["varied"].startswith("3 repetitions")
    for fmt in ("csv", "json", "parquet"):
        path = tmp_path / f"runs.{fmt}"
        assert saibench("results", "export", "--db", db, "--format", fmt, "-o", str(path)).returncode == 0
    with (tmp_path / "runs.csv").open() as f:
        table = list(csv.DictReader(f))
    accuracies = sorted(float(row["metric.accuracy"]) for row in table)
    assert len(table) == 3 and sorted(int(r["seed"]) for r in table) == [0, 1, 2]
    assert entry["metrics"]["accuracy"] == pytest.approx(float(np.median(accuracies)))
    assert entry["spread"]["accuracy"] == pytest.approx([accuracies[0], accuracies[-1]])
    as_json = json.loads((tmp_path / "runs.json").read_text())
    parquet = pq.read_table(tmp_path / "runs.parquet").to_pylist()
    assert sorted(r["metric.accuracy"] for r in as_json) == sorted(r["metric.accuracy"] for r in parquet) == pytest.approx(accuracies)
    assert all(r["peak_rss_mb"] > 0 for r in parquet)


@pytest.mark.slow
def test_dask_executor_gives_the_same_results_as_the_local_pool(tmp_path: Path) -> None:
    results = {}
    for executor in ("local", "dask"):
        db = str(tmp_path / f"{executor}.sqlite")
        done = saibench("run", "--db", db, "--problem", "wine", "--model", "mlp", "--model", "linear", "--executor", executor, "-j", "2")
        assert done.returncode == 0, done.stderr
        boards = json.loads(saibench("rank", "--db", db, "--json").stdout)["by_accuracy"]
        results[executor] = sorted((e["model"], json.dumps(e["hyperparameters"], sort_keys=True), e["metrics"]["accuracy"],
                                    e["metrics"]["balanced_accuracy"]) for e in boards)
    assert len(results["local"]) == 3 and results["local"] == results["dask"]


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    done = saibench("run", "--db", str(tmp_path / "r.sqlite"), "--problem", "wine", "--model", "linear", "--address", "tcp://127.0.0.1:9")
    assert done.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_weights_saved_then_loaded_for_fine_tuning(tmp_path: Path) -> None:
    import sqlite3

    first, second = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    done = saibench("run", "--db", first, "--problem", "digits", "--model", "mlp", "--save-weights", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(first) as conn:
        saved = {json.loads(spec)["hyperparameters"]["model"]["width"]: (json.loads(details)["weights"], json.loads(metrics)["accuracy"])
                 for spec, details, metrics in conn.execute("SELECT spec, details, metrics FROM runs")}
    weights, accuracy = saved[64]
    tuned = saibench("run", "--db", second, "--problem", "digits", "--model", "mlp", "--init-weights", weights)
    assert tuned.returncode == 1  # the width-256 run cannot take width-64 weights
    with sqlite3.connect(second) as conn:
        rows = {json.loads(spec)["hyperparameters"]["model"]["width"]: (status, reason, json.loads(metrics))
                for spec, status, reason, metrics in conn.execute("SELECT spec, status, reason, metrics FROM runs")}
    assert rows[256][0] == "failed" and "do not fit this model" in rows[256][1] and "model needs (64, 256)" in rows[256][1]
    assert rows[64][0] == "ok" and rows[64][2]["accuracy"] >= accuracy - 0.01  # 40 more epochs from trained weights
