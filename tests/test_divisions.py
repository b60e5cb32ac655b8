"""Divisions (issue 12, item 10): closed plans and ranks methods at their reference
hyperparameters only; open ranks everything and a tuned board says how many grid points
each best one was chosen among."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import saibench_core as sb
from saibench_core import cli
from saibench_core.discovery import Catalog
from saibench_core.errors import UsageError
from saibench_core.planner.division import at_reference, reference_catalog
from saibench_core.results import Outcome, Store


def test_the_closed_division_plans_each_method_at_its_modules_defaults_only(catalog: Catalog) -> None:
    closed = list(sb.plan(problem="digits", division="closed", catalog=catalog))
    everything = list(sb.plan(problem="digits", catalog=catalog))
    assert closed and len(closed) < len(everything)
    assert all(at_reference(r, catalog) for r in closed)
    assert {r.to_json()["model"] for r in closed} == {r.to_json()["model"] for r in everything}  # every method, once
    defaults = {(m.kind, m.name, h.name): h.grid[0] for m in catalog.modules for h in m.hyper}
    mlp = next(r for r in closed if r.model == "mlp")
    assert mlp.hyper["model"]["width"] == defaults["model", "mlp", "width"]
    assert sum(not at_reference(r, catalog) for r in everything) == len(everything) - len(closed)
    reference = reference_catalog(catalog)
    problem = next(p for p in catalog.of("problem") if any(len(h.grid) > 1 for h in p.hyper))  # a label budget
    kept = reference.get("problem", problem.name)
    assert kept is not None and kept.hyper == problem.hyper  # a problem's hyperparameters define the problem


def test_the_closed_division_refuses_setting_a_methods_hyperparameter(catalog: Catalog) -> None:
    with pytest.raises(UsageError, match="--set mlp.width: the closed division runs every method at its reference"):
        sb.plan(problem="digits", division="closed", grid={"mlp.width": [32]}, catalog=catalog)
    assert len(sb.plan(problem="digits", model="mlp", division="closed", grid={"digits.test_fraction": [0.3]}, catalog=catalog)) == 1
    done = CliRunner().invoke(cli.main, ["solve", "--division", "closed", "--set", "mlp.width=3", "--count"])
    assert done.exit_code == 2 and "the closed division runs every method" in done.output


def _store(db: Path, catalog: Catalog) -> None:
    with Store(db) as store:
        for i, run in enumerate(sb.plan(problem="digits", model=["mlp", "knn"], repeat=2, vary="seed", catalog=catalog)):
            width = run.hyper["model"].get("width", run.hyper["model"].get("neighbours"))
            store.put(f"k{i}", run, Outcome("ok", {"accuracy": 0.9 + width / 10_000},
                                            details={"validation_metrics": {"accuracy": 0.9 + width / 10_000}}))


def test_a_closed_leaderboard_shows_only_reference_runs_and_says_so(tmp_path: Path, catalog: Catalog) -> None:
    db = tmp_path / "results.sqlite"
    _store(db, catalog)
    [open_board] = sb.rank(db=db, ranking="by_accuracy", catalog=catalog)
    [closed] = sb.rank(db=db, ranking="by_accuracy", division="closed", catalog=catalog)
    assert len(open_board.entries) == 4 and len(closed.entries) == 2
    assert all(at_reference(e.run, catalog) for e in closed.entries)
    assert any(n.startswith("closed division: every method at its reference") for n in closed.notes)
    with pytest.raises(UsageError):
        sb.rank(db=db, division="half-open", catalog=catalog)


def test_a_tuned_open_leaderboard_discloses_the_configurations_tried(tmp_path: Path, catalog: Catalog) -> None:
    db = tmp_path / "results.sqlite"
    _store(db, catalog)
    [board] = sb.rank(db=db, ranking="by_accuracy", tuned=True, catalog=catalog)
    grids = {m.name: len(m.hyper[0].grid) for m in catalog.of("model") if m.name in ("mlp", "knn")}
    assert {e.run.model: e.tried for e in board.entries} == grids
    done = CliRunner().invoke(cli.main, ["rank", "--db", str(db), "--ranking", "by_accuracy", "--tuned", "--json"])
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)["by_accuracy"]
    assert {e["model"]: e["configurations_tried"] for e in shown} == grids
    text = CliRunner().invoke(cli.main, ["rank", "--db", str(db), "--ranking", "by_accuracy", "--tuned"]).stdout
    assert "tried" in text and "tried: the grid points it was chosen among" in " ".join(text.split())
