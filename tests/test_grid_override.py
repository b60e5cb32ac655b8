"""``--set MODULE.PARAM=V1,V2`` (``sb.plan(grid=...)``): a module's hyperparameter planned at
the values given instead of its own grid, with clear errors for what cannot be set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import saibench_core as sb
from saibench_core.errors import InvalidInput, UsageError

SAIBENCH = str(Path(sys.executable).with_name("saibench"))


def test_a_grid_replaces_a_modules_own_values_and_ints_follow_a_float_default() -> None:
    plan = sb.plan(problem="diabetes", model="ridge", grid={"ridge.alpha": [1, 10.0]})
    assert sorted(r.hyper["model"]["alpha"] for r in plan) == [1.0, 10.0]
    assert all(isinstance(r.hyper["model"]["alpha"], float) for r in plan)  # 1 and 1.0 are one run key


@pytest.mark.parametrize(("grid", "message"), [
    ({"ridge": [1]}, "name a module's hyperparameter as MODULE.PARAMETER=V1,V2"),
    ({"nosuch.alpha": [1]}, "no installed module is named 'nosuch'"),
    ({"ridge.beta": [1]}, "model ridge has no hyperparameter 'beta'; its hyperparameters: alpha"),
    ({"ridge.alpha": []}, "give at least one value"),
])
def test_what_cannot_be_set_is_named(grid: dict[str, list[float]], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sb.plan(problem="diabetes", model="ridge", grid=grid)


def test_a_grid_must_map_names_to_lists() -> None:
    with pytest.raises(InvalidInput, match="is not a mapping of 'MODULE.PARAMETER' to a list of values"):
        sb.plan(grid={"ridge.alpha": 1.0})  # type: ignore[dict-item]


def test_the_cli_reads_each_value_as_json() -> None:
    done = subprocess.run([SAIBENCH, "solve", "--problem", "diabetes", "--model", "ridge",
                           "--set", "ridge.alpha=0.5,2", "--json"], capture_output=True, text=True, check=True)
    alphas = sorted(run["hyperparameters"]["model"]["alpha"] for run in json.loads(done.stdout))
    assert alphas == [0.5, 2.0]
    bad = subprocess.run([SAIBENCH, "solve", "--set", "ridge.alpha"], capture_output=True, text=True)
    assert bad.returncode == 2 and "is not MODULE.PARAM=V1,V2" in bad.stderr
