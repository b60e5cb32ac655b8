"""mypy --strict holds on the language, the engine and the plugins; SAIL stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["sail_types", "saibench_core", "typing_tests", "plugins/standard/saibench_standard",
           "plugins/vision/saibench_vision", "plugins/tabular/saibench_tabular", "plugins/microscopy/saibench_microscopy", "examples/saibench-tutorial/saibench_tutorial"]


@pytest.mark.slow
def test_mypy_strict_passes() -> None:
    api = pytest.importorskip("mypy.api")
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), "--no-incremental",
                                      *(str(ROOT / p) for p in CHECKED)])
    assert status == 0, stdout + stderr


def test_sail_types_imports_neither_jax_z3_nor_the_engine() -> None:
    code = "import sys, sail_types; print(sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'z3', 'saibench_core', 'optax'}))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
