"""The README's plugin examples, as a new user copies them: its own layer (``Scale``, in
``scaled_linear``) and an Equinox model (``eqx_mlp``) pass ``mypy --strict`` and are planned,
run and ranked with the bundled digits problem, with no file but the README's blocks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from . import fake_plugin

ROOT = Path(__file__).resolve().parents[1]
HOOK = '''

@hookimpl
def saibench_modules() -> Sequence[Callable[..., Any]]:
    return [scaled_linear, eqx_mlp]
'''


def _block_after(readme: str, marker: str) -> str:
    found = re.search(r"```python\n(.*?)```", readme[readme.index(marker):], re.S)
    assert found is not None, f"README.md: no python block after {marker!r}"
    return found.group(1)


def readme_plugin() -> str:
    readme = (ROOT / "README.md").read_text()
    layer = _block_after(readme, "a plugin adds its own the same way")
    equinox = _block_after(readme, "A model may also return any JAX model")
    head = "from collections.abc import Callable, Sequence\nfrom sail_types import hookimpl\n"
    return head + layer + "\n\n" + equinox + HOOK


@pytest.mark.slow
def test_the_readmes_layer_and_equinox_model_type_check_plan_run_and_rank(tmp_path: Path) -> None:
    pytest.importorskip("equinox")
    api = pytest.importorskip("mypy.api")
    env = fake_plugin.install(tmp_path, "readme", readme_plugin())
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental",
                                      str(tmp_path / "saibench_readme.py")])
    assert status == 0, stdout + stderr

    def saibench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, env=env, timeout=600)

    planned = json.loads(saibench("solve", "--json", "--problem", "digits", "--model", "scaled_linear", "--model", "eqx_mlp").stdout)
    assert {r["model"] for r in planned} == {"scaled_linear", "eqx_mlp"}
    db = str(tmp_path / "results.sqlite")
    done = saibench("run", "--problem", "digits", "--model", "scaled_linear", "--model", "eqx_mlp", "--db", db)
    assert done.returncode == 0, done.stdout + done.stderr
    board = json.loads(saibench("rank", "--db", db, "--json").stdout)["by_accuracy"]
    accuracy = {b["model"]: b["metrics"]["accuracy"] for b in board}
    assert accuracy["eqx_mlp"] > 0.9 and accuracy["scaled_linear"] > 0.85
    ece = {b["model"]: b["metrics"]["ece"] for b in board}
    assert all(0.0 <= v <= 0.2 for v in ece.values()), ece  # scores are probabilities, not logits
