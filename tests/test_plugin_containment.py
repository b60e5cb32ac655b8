"""Plugin code is contained everywhere: each fault is injected by a tiny plugin, and the
commands that discover plugins (``plugins``, ``solve``, ``run``, ``rank``) must survive it,
list the plugin as broken with the reason, keep their JSON output valid and load the rest.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest

from saibench_core.discovery import Descriptor, describe
from saibench_core.planner import Run
from saibench_core.rank import leaderboard
from saibench_core.results import Record, Store
from saibench_core.results.outcome import Outcome
from sail_types import (
    Classify,
    Input,
    InvalidSignature,
    Label,
    Layer,
    Suggest,
    Tensor,
    converter,
    metric,
    model,
    problem,
    ranking,
)
from sail_types._errors import InvalidValue

from .fake_plugin import install

PROBLEM = '''
import os, sys, time
from typing import Annotated
from sail_types import Classify, Dataset, Device, Label, Tensor, hardware, hookimpl, problem

@problem(task=Classify)
def contained_problem(*, seed: int = 0) -> Dataset[Annotated[list, Tensor(4)], Annotated[list, Label(3)]]:
    raise NotImplementedError
'''
MODULES = '''
@hookimpl
def saibench_modules():
    {before}
    return [contained_problem{more}]
'''


def plugin(tmp_path: Path, *, at_import: str = "", in_hook: str = "pass", more: str = "", extra: str = "",
           env: dict[str, str] | None = None, timeout: float | None = None) -> dict[str, str]:
    """Install plugin ``faulty`` (a problem, plus ``extra`` source) with a fault at import
    or in its hook; only it and the bundled ``standard`` plugin are loaded."""
    source = PROBLEM + textwrap.dedent(extra) + MODULES.format(before=in_hook, more=more) + at_import + "\n"
    environ = install(tmp_path, "faulty", source)
    environ["SAIBENCH_LOAD_PLUGINS"] = "standard,chemistry,faulty"
    if timeout is not None:
        environ["SAIBENCH_PLUGIN_TIMEOUT"] = str(timeout)
    return {**environ, **(env or {})}


def saibench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # the timeout bounds liveness only: a contained hang ends well within it
    return subprocess.run([sys.executable, "-m", "saibench_core", *args], env=env, capture_output=True, text=True, timeout=180)


def listing(env: dict[str, str]) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    done = saibench(env, "plugins", "--json")
    return json.loads(done.stdout), done  # stdout is JSON and nothing else, whatever a plugin printed


def broken_reason(data: dict[str, Any], name: str = "faulty") -> str:
    found = [b["reason"] for b in data["broken"] if b["plugin"] == name]
    assert found, data
    return " | ".join(found)


FATAL = [
    pytest.param({"at_import": "os._exit(0)"}, "ended the process with exit status 0 while importing it", id="os._exit at import"),
    pytest.param({"in_hook": "os._exit(3)"}, "exit status 3 while calling saibench_modules()", id="os._exit in hook"),
    pytest.param({"at_import": "import ctypes; ctypes.string_at(0)"}, "crashed with signal SIGSEGV while importing it", id="segfault at import"),
    pytest.param({"at_import": "time.sleep(120)", "timeout": 1}, "did not finish importing it within 1 s", id="hang at import"),
    pytest.param({"more": ", probe", "timeout": 1, "extra": "@hardware()\ndef probe():\n    time.sleep(120)\n"},
                 "did not finish describing 'probe' within 1 s", id="hardware probe hangs"),
    pytest.param({"at_import": "@hookimpl\ndef saibench_preload():\n    return ['saibench_faulty_pre']",
                  "extra": "open(os.path.join(os.path.dirname(__file__), 'saibench_faulty_pre.py'), 'w').write('import os; os._exit(0)')"},
                 "exit status 0 while importing its preloaded module 'saibench_faulty_pre'", id="os._exit in preloaded module"),
]


@pytest.mark.parametrize(("fault", "expected"), FATAL)
def test_exits_crashes_and_hangs_are_broken_plugins_not_ended_commands(tmp_path: Path, fault: dict[str, Any], expected: str) -> None:
    env = plugin(tmp_path, **fault)
    data, done = listing(env)
    assert done.returncode == 2, done.stderr
    assert expected in broken_reason(data)
    assert "standard" in [p["name"] for p in data["plugins"]]  # the others still load
    solved = saibench(env, "solve", "--count")
    assert solved.returncode == 0 and int(solved.stdout) > 0, solved.stderr
    assert expected in solved.stderr
    # run does not end silently with status 0: it says what is broken, then goes on to plan
    ran = saibench(env, "run", "--db", str(tmp_path / "r.sqlite"), "--problem", "no-such-problem")
    assert ran.returncode == 2 and expected in ran.stderr and "no problem matches" in ran.stderr, ran.stderr


def test_a_verdict_is_cached_and_renewed_when_the_plugin_changes(tmp_path: Path) -> None:
    env = plugin(tmp_path, at_import="os._exit(0)")
    first, _ = listing(env)
    verdicts = json.loads((tmp_path / "cache" / "saibench" / "plugin-verdicts.json").read_text())["verdicts"]
    assert any(v["reason"] and "exit status 0" in v["reason"] for v in verdicts.values())
    again, _ = listing(env)
    assert broken_reason(again) == broken_reason(first)
    source = tmp_path / "saibench_faulty.py"
    source.write_text(source.read_text().replace("os._exit(0)", "pass  # fixed"))
    fixed, done = listing(env)
    assert done.returncode == 0, fixed
    assert [m["name"] for p in fixed["plugins"] if p["name"] == "faulty" for m in p["modules"]] == ["contained_problem"]


@pytest.mark.parametrize(("fault", "expected"), [
    ({"at_import": "raise SystemExit(0)"}, "SystemExit: 0"),
    ({"at_import": "sys.exit('bye')"}, "SystemExit: bye"),
    ({"in_hook": "raise SystemExit(4)"}, "saibench_modules() raised SystemExit: 4"),
    ({"in_hook": "raise KeyboardInterrupt"}, "saibench_modules() raised KeyboardInterrupt"),
    ({"more": ", probe", "extra": "@hardware()\ndef probe():\n    raise SystemExit(1)\n"}, "raised SystemExit: 1"),
    ({"more": ", probe", "extra": "@hardware()\ndef probe():\n    return Device('cpu', memory_bytes='lots')\n"}, "memory_bytes a positive int"),
])
def test_exceptions_of_any_kind_break_only_the_plugin(tmp_path: Path, fault: dict[str, Any], expected: str) -> None:
    data, done = listing(plugin(tmp_path, **fault))
    assert done.returncode == 2
    assert expected in broken_reason(data)
    assert "standard" in [p["name"] for p in data["plugins"]]


def test_stdout_writes_of_plugins_never_reach_json_output(tmp_path: Path) -> None:
    env = plugin(tmp_path, at_import="print('at import'); os.write(1, b'fd at import\\n')", in_hook="print('in hook')",
                 more=", probe", extra="@hardware()\ndef probe():\n    print('in probe')\n    return Device('cpu')\n")
    data, done = listing(env)
    assert done.returncode == 0, data
    assert "at import" in done.stderr and "fd at import" in done.stderr and "in probe" in done.stderr
    solved = saibench(env, "solve", "--json", "--count")
    assert json.loads(solved.stdout)["feasible"] > 0


def test_an_entry_point_named_like_a_bundled_plugin_breaks_both_naming_both(tmp_path: Path) -> None:
    env = install(tmp_path, "standard_impostor", PROBLEM + MODULES.format(before="pass", more=""))
    # the impostor's distribution declares the entry point `standard`
    (tmp_path / "saibench_standard_impostor-0.1.dist-info" / "entry_points.txt").write_text(
        "[saibench.plugins]\nstandard = saibench_standard_impostor\n")
    data, done = listing(env)
    assert done.returncode == 2
    reasons = [b["reason"] for b in data["broken"] if b["plugin"] == "standard"]
    assert len(reasons) == 2
    assert all("saibench-standard 0.1.0" in r and "saibench-standard_impostor 0.1" in r and "SAIBENCH_BLOCK_PLUGINS" in r for r in reasons)
    # blocking one distribution by its name settles it
    data, done = listing({**env, "SAIBENCH_BLOCK_PLUGINS": "saibench-standard-impostor"})
    assert done.returncode == 0, data
    assert "standard" in [p["name"] for p in data["plugins"]]


def test_a_bad_constraint_is_refused_where_it_is_declared_and_solve_survives(tmp_path: Path) -> None:
    extra = '''
    from sail_types import Input, Layer, Suggest, model
    @model(task=Classify, constraints=("width >= 'abc'",))
    def bad(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([1, 2])) -> Annotated[Layer, Label("k")]:
        raise NotImplementedError
    '''
    env = plugin(tmp_path, extra=extra)
    data, _ = listing(env)
    reason = broken_reason(data)
    assert "'abc' is not a number" in reason and "saibench_faulty.py" in reason
    for args in (["solve", "--count"], ["explain", "--problem", "contained_problem", "--model", "mlp"]):
        done = saibench(env, *args)
        assert "Traceback" not in done.stderr and "z3" not in done.stderr.lower(), done.stderr


@pytest.mark.parametrize("expr", ["width >= 'abc'", "width >= True", "not width", "width > 1e999", "width % 1.5 > 0", "-(a < b) > 0"])
def test_constraints_that_z3_cannot_take_are_refused_at_decoration(expr: str) -> None:
    with pytest.raises(InvalidSignature, match="constraint|number|comparison|integers|finite"):
        model(task=Classify, constraints=(expr,))


@pytest.mark.parametrize(("declare", "expected"), [
    (lambda: metric(goal="maximize"), "goal='maximize' must be 'max'"),  # type: ignore[arg-type]
    (lambda: metric(goal="max", hard_fail=math.nan), "hard_fail nan is not a finite number"),
    (lambda: metric(goal="max", hard_fail="0.5"), "hard_fail '0.5' is not a finite number"),  # type: ignore[arg-type]
    (lambda: converter(cost=-1.0), "cost -1.0 is negative"),
    (lambda: converter(cost=math.inf), "cost inf is not a finite number"),
    (lambda: problem(task="Classify"), "task='Classify' is not a Task"),  # type: ignore[arg-type]
    (lambda: model(task=Classify, name="bad name"), "name 'bad name' is not a name"),
    (lambda: model(task=Classify, name="red\x1b[31m"), "is not a name"),
    (lambda: model(task=Classify, field=""), "field '' is not a name"),
    (lambda: model(task=Classify, only_with=5), "relations are a tuple"),  # type: ignore[arg-type]
    (lambda: model(task=Classify, only_with=("problem:",)), "a relation is 'role:glob'"),
    (lambda: ranking(metrics=("accuracy", 3)), "metric 3 is not a name"),  # type: ignore[arg-type]
    (lambda: Suggest([object()]), "is not None, a bool"),
    (lambda: Suggest([math.nan]), "nan is not finite"),
    (lambda: Suggest([]), "at least one value"),
])
def test_declared_values_are_checked_where_they_enter(declare: Any, expected: str) -> None:
    with pytest.raises(InvalidValue if "relation" not in expected else InvalidSignature) as info:
        declare()
    assert expected in str(info.value)


def test_numpy_grid_values_become_python_values() -> None:
    grid = Suggest([np.int64(3), np.float64(0.25), np.str_("adam"), [np.int8(1), 2], np.bool_(True)]).values  # type: ignore[attr-defined]
    assert grid == (3, 0.25, "adam", (1, 2), True)
    assert [type(v) for v in grid] == [int, float, str, tuple, bool]
    json.dumps(grid)


def test_a_default_that_json_cannot_carry_is_refused_at_describe() -> None:
    @model(task=Classify)
    def m(x: Annotated[Input, Tensor("d")], *, lr: Any = np.float32(0.5), opt: object = b"adam") -> Annotated[Layer, Label("k")]:  # noqa: B008
        raise NotImplementedError

    with pytest.raises(InvalidValue, match="hyperparameter 'opt'.*is not None, a bool"):
        describe(m, "p", "0")

    @model(task=Classify)
    def n(x: Annotated[Input, Tensor("d")], *, lr: Any = np.float32(0.5)) -> Annotated[Layer, Label("k")]:  # noqa: B008
        raise NotImplementedError

    assert describe(n, "p", "0").hyper[0].grid == (0.5,)


BAD_RANKINGS = {
    "raises": ("raise TypeError('no such metric')", "TypeError: no such metric"),
    "returns_none": ("return None", "returned None (NoneType)"),
    "returns_text": ("return '0.5'", "returned '0.5' (str)"),
    "returns_nan": ("return float('nan')", "returned NaN"),
}
RANKINGS = '''
from collections.abc import Mapping
from sail_types import hookimpl, ranking

@ranking(metrics=("accuracy",))
def good(values: Mapping[str, float]) -> float:
    return values["accuracy"]
''' + "".join(f'''
@ranking(metrics=("accuracy",))
def {name}(values: Mapping[str, float]) -> float:
    print("stdout from ranking")
    {body}
''' for name, (body, _) in BAD_RANKINGS.items()) + f'''
@hookimpl
def saibench_modules():
    return [good, {", ".join(BAD_RANKINGS)}]
'''


def stored_run(width: int) -> Run:
    return Run("digits", "mlp", "adam", "jax-float32", "cpu", (), 0.0, {}, {"model": {"width": width}},
               ("accuracy",), ("good", *BAD_RANKINGS))


def test_a_failing_ranking_fails_only_its_board_once_with_its_name(tmp_path: Path) -> None:
    env = install(tmp_path, "rankings", RANKINGS)
    env["SAIBENCH_LOAD_PLUGINS"] = "rankings"
    db = tmp_path / "results.sqlite"
    with Store(db) as store:
        for i in range(3):  # three configurations, each failing every bad ranking
            store.put(f"k{i}", stored_run(64 + i), Outcome("ok", {"accuracy": 0.5 + i / 10}))
    done = saibench(env, "rank", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    boards = json.loads(done.stdout)
    assert [e["score"] for e in boards["good"]] == [0.7, 0.6, 0.5]
    for name, (_, why) in BAD_RANKINGS.items():
        assert boards[name] == []
        lines = [line for line in done.stderr.splitlines() if line.startswith(f"saibench: ranking {name}: failed on run")]
        assert len(lines) == 1 and why in lines[0] and "digits × mlp by adam, seed 0 split 0" in lines[0], done.stderr
    table = saibench(env, "rank", "--db", str(db))
    assert table.returncode == 0 and "Traceback" not in table.stderr


def test_a_numeric_string_from_a_ranking_is_not_a_score() -> None:
    @ranking(metrics=("accuracy",))
    def text(values: Any) -> Any:
        return "0.9"

    desc = Descriptor("text", "ranking", "p", "0", text.__sail__, fn=text)  # type: ignore[attr-defined]
    rec = Record("k", stored_run(0), "ok", "", {"accuracy": 0.9}, {}, 1.0)
    board = leaderboard(desc, [rec])
    assert board.entries == () and "returned '0.9' (str)" in board.notes[0]
