"""Two `saibench run` campaigns on one database at once: every run is trained by exactly one
of them (claims), and every run ends stored ok exactly once."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_two_runners_on_one_database_never_train_a_run_twice(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    args = [sys.executable, "-m", "saibench_core", "run", "--problem", "wine", "--model", "linear", "--model", "mlp",
            "--db", str(db)]
    runners = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [r.communicate(timeout=600) for r in runners]
    assert all(r.returncode == 0 for r in runners), outputs
    trained = []
    for _, stderr in outputs:
        found = re.search(r"(\d+) ok, (\d+) failed, (\d+) already stored", stderr)
        assert found, stderr
        trained.append(int(found.group(1)))
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
    assert rows == [("ok", 3)]
    assert sum(trained) == 3  # each of the three runs trained once, by one runner or the other
