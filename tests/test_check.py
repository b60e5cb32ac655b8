"""``saibench check`` and ``solve --strict-types`` on an installed plugin with a type error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from . import fake_plugin

PLUGIN = '''
from typing import Annotated
from sail_types import Classify, Input, Label, Layer, Linear, Pipeline, Suggest, Tensor, hookimpl, model


@model(task=Classify)
def typed_ok(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    return Pipeline(Linear("k"))


@model(task=Classify)
def mistyped(x: Annotated[Input, Tensor("d")], *, width: int = Suggest(["wide"])) -> Annotated[Layer, Label("k")]:
    return Pipeline(Linear(width), Linear("k"))


@hookimpl
def saibench_modules():
    return [typed_ok, mistyped]
'''


def test_check_attributes_errors_to_modules_and_strict_types_leaves_them_out(tmp_path: Path) -> None:
    env = fake_plugin.install(tmp_path, "typo", PLUGIN)

    def saibench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, env=env, timeout=600)

    checked = saibench("check", "--json")
    assert checked.returncode == 1, checked.stderr
    verdicts = {f["module"]: f for f in json.loads(checked.stdout) if f["plugin"] == "typo"}
    assert verdicts["typed_ok"]["ok"]
    assert not verdicts["mistyped"]["ok"] and "str" in verdicts["mistyped"]["errors"][0]
    assert all(f["ok"] for f in json.loads(checked.stdout) if f["plugin"] in ("standard", "vision", "chemistry", "tabular"))

    loose = {r["model"] for r in json.loads(saibench("solve", "--json", "--problem", "digits").stdout)}
    strict = saibench("solve", "--json", "--problem", "digits", "--strict-types")
    assert {"typed_ok", "mistyped"} <= loose
    assert {r["model"] for r in json.loads(strict.stdout)} == loose - {"mistyped"}
    assert "--strict-types leaves out model mistyped (typo)" in strict.stderr
