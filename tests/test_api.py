"""The Python API as a notebook user calls it: plan, run, rank, results as a DataFrame.

Planning uses the installed plugins; campaigns are faked (``execute.run_campaign``) except
in the README's script, which runs one real run in seconds."""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import saibench_core as sb
from saibench_core import cli, execute
from saibench_core.discovery import Catalog, load_catalog
from saibench_core.errors import Part
from saibench_core.results import Outcome, Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_plan_with_no_arguments_plans_every_plugin_as_solve_count_does() -> None:
    counted = CliRunner().invoke(cli.main, ["solve", "--count"])
    assert counted.exit_code == 0, counted.output
    everything = sb.plan()
    assert len(everything) == everything.count() == int(counted.stdout) > 0
    assert {r.problem for r in everything} >= {"wine", "digits"}


def test_plan_filters_are_the_clis_globs(catalog: Catalog) -> None:
    import json

    planned = sb.plan(problem="wine", model=["lin*"], catalog=catalog)
    listed = CliRunner().invoke(cli.main, ["solve", "--json", "--problem", "wine", "--model", "lin*"])
    assert [r.to_json() for r in planned] == json.loads(listed.stdout)
    assert {(r.problem, r.model) for r in planned} == {("wine", "linear")}
    sampled = sb.plan(max_runs=2, seed=3, catalog=catalog)
    everything = [r.to_json() for r in sb.plan(seed=3, catalog=catalog)]
    assert len(sampled) == 2 and all(r.to_json() in everything for r in sampled)
    repeated = sb.plan(problem="wine", model="linear", repeat=3, vary="split", seed=5, catalog=catalog)
    assert [(r.seed, r.split) for r in repeated] == [(5, 0), (5, 1), (5, 2)]


@pytest.mark.parametrize(("arguments", "parameter", "needle"), [
    ({"max_chain": -1}, "max_chain", "max_chain=-1 is not an integer >= 0"),
    ({"max_runs": 0}, "max_runs", "max_runs=0 is not an integer >= 1"),
    ({"seed": -1}, "seed", "seed=-1 is not an integer in [0, "),
    ({"repeat": True}, "repeat", "repeat=True is not an integer >= 1"),
    ({"vary": "all"}, "vary", "vary='all' is not one of 'seed', 'split', 'both'"),
    ({"model": [3]}, "model", "model=[3] is not a glob pattern"),
])
def test_plan_refuses_bad_arguments_naming_them(arguments: dict[str, Any], parameter: str, needle: str) -> None:
    with pytest.raises(sb.InvalidInput) as raised:
        sb.plan(catalog=Catalog(()), **arguments)
    assert raised.value.parameter == parameter and needle in str(raised.value)
    assert isinstance(raised.value, (sb.SaibenchError, ValueError))


def test_plan_says_which_modules_are_installed_when_a_glob_matches_none(catalog: Catalog) -> None:
    with pytest.raises(sb.UsageError, match=r"no model matches 'nosuch'; installed models: .*linear"):
        sb.plan(model="nosuch", catalog=catalog)


def test_plan_explains_a_missing_pairing_and_lists_what_is_left_out(catalog: Catalog) -> None:
    everything = sb.plan(catalog=catalog)
    reasons = everything.explain("wine", "cnn")
    assert reasons and reasons[0].requirement == "converter chain" and "Image" in reasons[0].detail
    assert everything.explain("wine", "linear") == []
    assert any("gpu" in " ".join(lo.modules) for lo in everything.left_out())
    with pytest.raises(sb.UsageError, match="no model named 'nosuch'; installed models: "):
        everything.explain("wine", "nosuch")
    [pair] = sb.explain(problem="wine", model="cnn", catalog=catalog)
    assert pair.subject == "problem wine × model cnn" and not pair.feasible and pair.reasons == tuple(reasons)


class Unplanned:
    """Runs that must not be planned: the arguments are checked first."""

    def __iter__(self) -> Iterator[sb.Run]:
        raise AssertionError("planned before the arguments were checked")


def _files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-file").write_text("")
    return {"file": tmp_path / "a-file", "missing": tmp_path / "no-such.npz"}


@pytest.mark.parametrize(("arguments", "parameter", "api", "option"), [
    ({"jobs": 0}, "jobs", "jobs=0 is not an integer >= 1", None),
    ({"timeout": math.nan}, "timeout", "timeout=nan is not a finite number > 0", None),
    ({"memory_limit": 0.5}, "memory_limit", "memory_limit=0.5 is not a finite number >= 1", None),
    ({"executor": "slurm"}, "executor", "executor='slurm' is not one of 'local', 'dask'", None),
    ({"address": "not a url"}, "address", "address='not a url' is not a Dask scheduler address",
     "--address 'not a url' is not a Dask scheduler address"),
    ({"save_weights": "{file}/sub"}, "save_weights", "cannot be created or written", "--save-weights '"),
    ({"init_weights": "{file}"}, "init_weights", "is not a weights file saibench wrote (not an .npz: no zip header)",
     "--init-weights '"),
    ({"init_weights": "{missing}"}, "init_weights", "(no such file)", None),
])
def test_run_checks_every_argument_before_any_work(tmp_path: Path, arguments: dict[str, Any], parameter: str, api: str,
                                                   option: str | None) -> None:
    files = _files(tmp_path)
    arguments = {k: v.format(**files) if isinstance(v, str) else v for k, v in arguments.items()}
    db = tmp_path / "results.sqlite"
    with pytest.raises(sb.InvalidInput) as raised:
        sb.run(Unplanned(), db=db, catalog=Catalog(()), **arguments)
    assert raised.value.parameter == parameter and api in str(raised.value)
    if option is not None:  # what the CLI prints: the same check, named by its option
        assert raised.value.naming(option.split()[0]).startswith(option)
    assert not db.exists()


def test_an_invalid_input_names_the_keyword_in_python_and_the_option_on_the_command_line() -> None:
    exc = sb.InvalidInput("save_weights", "/x", Part.WHERE, " is a file; check ", Part.NAME, " (", Part.VALUE, ")")
    assert str(exc) == "save_weights='/x' is a file; check save_weights (/x)"
    assert exc.naming("--save-weights") == "--save-weights '/x' is a file; check --save-weights (/x)"


def fake_campaign(catalog: Catalog, runs: Sequence[sb.Run], store: Store, **kwargs: Any) -> dict[str, int]:
    for i, r in enumerate(runs):
        outcome = Outcome("ok", {"accuracy": 0.9, "balanced_accuracy": 0.8, "train_time": 1.0},
                          details={"validation_metrics": {"accuracy": 0.85}})
        store.put(f"k{i}", r, outcome)
        kwargs["on_done"](r, outcome)
    return {"ok": len(runs), "failed": 0, "skipped": 0}


@pytest.fixture
def campaign(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, catalog: Catalog) -> tuple[sb.Results, Path, list[Any]]:
    db = tmp_path / "results.sqlite"
    with Store(db) as store:  # another campaign's run, on another problem
        [other] = sb.plan(problem="digits", model="linear", catalog=catalog)
        store.put("other", other, Outcome("ok", {"accuracy": 0.5}))
    monkeypatch.setattr(execute, "run_campaign", fake_campaign)
    seen: list[Any] = []
    results = sb.run(sb.plan(problem="wine", model="linear", repeat=2, catalog=catalog), db=db,
                     on_start=lambda runs: seen.append(len(runs)), on_done=lambda r, outcome: seen.append(outcome.status))
    return results, db, seen


def test_run_returns_its_campaigns_counts_records_and_leaderboards(campaign: tuple[sb.Results, Path, list[Any]]) -> None:
    results, db, seen = campaign
    assert seen == [2, "ok", "ok"]
    assert dict(results.counts) == {"ok": 2, "failed": 0, "skipped": 0} and results.failed == 0 and results.db == db
    assert [(r.run.problem, r.run.seed, r.run.split) for r in results.records] == [("wine", 0, 0), ("wine", 1, 1)]
    boards = {b.ranking.name: b for b in results.leaderboards()}
    [entry] = boards["by_accuracy"].entries
    assert entry.run.problem == "wine" and entry.place == 1 and len(entry.records) == 2


def test_results_are_a_dataframe_with_one_column_per_hyperparameter(campaign: tuple[sb.Results, Path, list[Any]]) -> None:
    results, db, _ = campaign
    frame = results.to_dataframe()
    assert list(frame["seed"]) == [0, 1] and list(frame["split"]) == [0, 1] and set(frame["status"]) == {"ok"}
    assert list(frame["hyper.trainer.epochs"]) == [40, 40] and "hyperparameters" not in frame.columns
    assert list(frame["metric.accuracy"]) == [0.9, 0.9] and list(frame["validation.accuracy"]) == [0.85, 0.85]
    whole = sb.results_frame(db=db)
    assert len(whole) == 3 and set(whole["problem"]) == {"wine", "digits"}
    assert math.isnan(whole.set_index("key").loc["other", "validation.accuracy"])


def test_rank_reads_the_store_and_filters_by_problem(campaign: tuple[sb.Results, Path, list[Any]], catalog: Catalog,
                                                      tmp_path: Path) -> None:
    _, db, _ = campaign
    boards = sb.rank(db=db, ranking="by_accuracy", catalog=catalog)
    assert [b.ranking.name for b in boards] == ["by_accuracy"]
    assert {e.run.problem for e in boards[0].entries} == {"wine", "digits"}
    [wine] = sb.rank(db=db, ranking="by_accuracy", problem="w*", catalog=catalog)
    assert {e.run.problem for e in wine.entries} == {"wine"}
    with pytest.raises(sb.UsageError, match="no stored run has a matching problem; stored problems: digits, wine"):
        sb.rank(db=db, problem="nosuch", catalog=catalog)
    with pytest.raises(sb.StoreError):
        sb.rank(db=tmp_path / "missing.sqlite", catalog=catalog)
    assert not (tmp_path / "missing.sqlite").exists()
    assert sb.export(tmp_path / "runs.csv", format="csv", db=db, status="ok") == 3
    with pytest.raises(sb.InvalidInput, match="output='/no/such/folder/runs.csv': the folder"):
        sb.export("/no/such/folder/runs.csv", format="csv", db=db)


def test_without_pandas_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(sb.MissingExtra) as raised:
        sb.results_frame(db=tmp_path / "never-read.sqlite")
    assert "pip install 'saibench[pandas]'" in str(raised.value) and raised.value.extra == "pandas"
    assert isinstance(raised.value, ImportError)


def test_importing_and_planning_import_no_jax() -> None:
    code = "import sys, saibench_core as sb; n = len(sb.plan()); print(n, 'jax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, jax = done.stdout.split()
    assert int(count) > 0 and jax == "False"


def test_the_cli_only_parses_and_prints() -> None:
    """A ratchet: planning, running, ranking and the store are reached through the API only."""
    trees = [ast.parse(path.read_text()) for path in (ROOT / "saibench_core" / "cli").glob("*.py")]
    assert len(trees) > 3, "saibench_core/cli/ holds one module per command group"
    used = {n.id for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {a.asname or a.name for tree in trees for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    engine = {"Planner", "select", "sample", "run_campaign", "PodOptions", "leaderboards", "restrict", "Store",
              "default_path", "without_failures", "explain_pair", "unused", "scheduler_address", "weights_dir",
              "weights_file", "output_file", "export"}
    assert used & engine == set()


def readme_script() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"```python\n(.*?)```", readme[readme.index("## Python API"):], re.S)
    assert found is not None, "README.md: the Python API section has no python block"
    return found.group(1)


@pytest.mark.slow
def test_the_readme_script_runs_as_shown(tmp_path: Path) -> None:
    script = tmp_path / "notebook.py"
    script.write_text(readme_script())
    # the bundled plugins only, as after the README's first command (the tutorial is a dev install)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "SAIBENCH_BLOCK_PLUGINS": "tutorial"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert int(lines[0].split()[0]) > 0 and lines[0].endswith("feasible runs")
    assert "{'ok': 1, 'failed': 0, 'skipped': 0}" in lines
    assert any(line.startswith("by_accuracy 1 linear ") for line in lines)
    assert re.search(r"digits\s+linear\s+adam\s+0\s+40\s+ok\s+0\.\d+", done.stdout)
    assert (tmp_path / "data" / "saibench" / "results.sqlite").exists()


def test_a_script_without_a_main_guard_is_told_how_to_fix_it(tmp_path: Path) -> None:
    """Pods import the main script as multiprocessing's children do; calling the API at its top level
    then names the script and the guard instead of multiprocessing's bootstrapping error."""
    script = tmp_path / "unguarded.py"
    script.write_text("import saibench_core as sb\n"
                      f"print(sb.run(sb.plan(problem='wine', model='linear'), db={str(tmp_path / 'r.sqlite')!r}).counts)\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert f"saibench_core.plan() was called at the top level of {script}" in done.stderr
    assert 'put the calls under `if __name__ == "__main__":`' in done.stderr
    assert "bootstrapping phase" not in done.stderr
    assert "{'ok': 0, 'failed': 1, 'skipped': 0}" in done.stdout  # the campaign itself went on
