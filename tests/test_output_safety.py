"""Output and tools that cannot be turned against the user (real ``saibench`` subprocesses):
control characters from plugins, runs and a crafted results database are printed escaped,
emoji codes stay text, ``saibench check`` ignores the working directory's mypy settings and
works from any folder, and saved weights never go through a planted symbolic link."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from saibench_core.planner import Run
from saibench_core.results import Outcome, Store

from . import fake_plugin
from .test_check import PLUGIN as MISTYPED

# an OSC title/clipboard write, a screen clear, a C1 CSI, a bidi override, a NUL
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b8m\u202e\x00"
RAW = ("\x1b", "\x9b", "\u202e", "\x00")

EVIL = f'''
import sys
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Classify, Dataset, Device, Fail, Label, Tensor, hardware, hookimpl, problem

HOSTILE = {HOSTILE!r}


@problem(task=Classify, field="chemistry", kind="cases")
def evil(*, split_seed: int = 0) -> Dataset[Annotated[NDArray[np.float32], Tensor(4)], Annotated[NDArray[np.int32], Label(2)]]:
    """A problem whose data loading prints escape sequences and fails with them."""
    print("stdout" + HOSTILE, flush=True)
    print("stderr" + HOSTILE, file=sys.stderr, flush=True)
    raise RuntimeError("reason" + HOSTILE)


@hardware()
def evilhw() -> Device:
    """Hardware that is never there, and says so with escape sequences."""
    raise Fail("absent" + HOSTILE)


@hookimpl
def saibench_modules():
    return [evil, evilhw]
'''


def saibench(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "saibench_core", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


def assert_escaped(text: str, *needles: str) -> None:
    """No raw control character in ``text`` (tables and lines end in newlines only), and each
    ``needle`` is there, its escapes shown."""
    assert not [c for c in RAW if c in text], repr(text)
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.fixture(scope="module")
def hostile_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An installed plugin with escape sequences in its reasons and logs, one broken at import
    with them in its message, and a version string carrying them."""
    where = tmp_path_factory.mktemp("hostile")
    env = fake_plugin.install(where, "evil", EVIL)
    fake_plugin.install(where, "evilbroken", f"raise ImportError({HOSTILE!r})\n")
    meta = where / "saibench_evil-0.1.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.1", "Version: 0.1\x1b[2J"))
    return env


def test_plugins_and_planning_commands_escape_what_plugins_say(hostile_env: dict[str, str]) -> None:
    listed = saibench("plugins", env=hostile_env)
    assert_escaped(listed.stdout + listed.stderr, "0.1\\x1b[2J", "\\x1b]0;pwned", "\\u202e")
    solved = saibench("solve", "--all", env=hostile_env)
    assert_escaped(solved.stdout + solved.stderr, "absent\\x1b]0;pwned")
    explained = saibench("explain", env=hostile_env)
    assert "hardware evilhw: no run" in explained.stdout
    assert_escaped(explained.stdout + explained.stderr, "absent\\x1b]0;pwned")


def test_run_escapes_failure_reasons_and_log_tails(hostile_env: dict[str, str], tmp_path: Path) -> None:
    done = saibench("run", "--db", str(tmp_path / "r.sqlite"), "--problem", "evil", "--model", "linear", env=hostile_env)
    assert done.returncode == 1, done.stderr
    assert "FAIL  evil × linear" in done.stderr
    assert_escaped(done.stdout + done.stderr, "reason\\x1b]0;pwned")


def _crafted(db: Path) -> None:
    """Records whose names, reason and hyperparameters carry escape sequences."""
    with Store(db) as store:
        for seed, model in enumerate(("mlp" + HOSTILE, "linear\u202e")):
            run = Run("wine", model, "adam" + HOSTILE, "jax-float32", "cpu", chain=(), chain_cost=0.0, dims={},
                      hyper={"model": {"width" + HOSTILE: 8}}, metrics=("accuracy",), rankings=("by_accuracy",), seed=seed)
            store.put(f"k{seed}", run, Outcome("ok", {"accuracy": 0.5 + seed / 10}, wall_seconds=1.0))
        failed = Run("wine", "cnn" + HOSTILE, "adam", "jax-float32", "cpu", chain=(), chain_cost=0.0, dims={}, hyper={},
                     metrics=("accuracy",), rankings=("by_accuracy",), seed=7)
        store.put("k7", failed, Outcome("failed", reason="diverged" + HOSTILE))


def test_rank_of_a_crafted_database_prints_no_raw_escape(tmp_path: Path) -> None:
    db = tmp_path / "crafted.sqlite"
    _crafted(db)
    shown = saibench("rank", "--db", str(db), env={**os.environ, "COLUMNS": "200"})  # names whole on one line
    assert shown.returncode == 0, shown.stderr
    assert "ranking by_accuracy on wine" in shown.stdout
    assert_escaped(shown.stdout + shown.stderr, "mlp\\x1b]0;pwned", "linear\\u202e")
    as_json = saibench("rank", "--db", str(db), "--json")
    assert_escaped(as_json.stdout + as_json.stderr)
    assert {e["model"] for e in json.loads(as_json.stdout)["by_accuracy"]} >= {"mlp" + HOSTILE, "linear\u202e"}


def test_emoji_codes_in_messages_stay_text(tmp_path: Path) -> None:
    done = saibench("rank", "--db", str(tmp_path / "root:x:0:smile:.sqlite"))
    assert done.returncode == 2
    assert "root:x:0:smile:" in done.stderr and "😄" not in done.stderr


def test_check_ignores_the_working_directorys_mypy_settings_and_works_from_any_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    env = fake_plugin.install(tmp_path / "site", "typo", MISTYPED)
    here = tmp_path / "elsewhere"
    here.mkdir()
    # a folder's config that would import a mypy plugin and hide every error, and a stub
    # that would stand in for the SAIL language if the folder were on mypy's path
    (here / "mypy.ini").write_text("[mypy]\nplugins = evil_mypy_plugin\nignore_errors = True\n")
    (here / "setup.cfg").write_text("[mypy]\nignore_errors = True\n")
    (here / "pyproject.toml").write_text("[tool.mypy]\nignore_errors = true\n")
    (here / "evil_mypy_plugin.py").write_text(f"open({str(here / 'IMPORTED')!r}, 'w').close()\ndef plugin(version): ...\n")
    (here / "sail_types.pyi").write_text("from typing import Any\ndef __getattr__(name: str) -> Any: ...\n")
    checked = saibench("check", "--json", env=env, cwd=here)
    assert checked.returncode == 1, checked.stderr
    verdicts = {(f["plugin"], f["module"]): f for f in json.loads(checked.stdout)}
    assert not (here / "IMPORTED").exists()
    assert not verdicts["typo", "mistyped"]["ok"] and verdicts["typo", "typed_ok"]["ok"]
    bundled = [f for (plugin, _), f in verdicts.items() if plugin in ("standard", "vision", "chemistry", "tutorial")]
    assert bundled and all(f["ok"] for f in bundled), [f for f in bundled if not f["ok"]]
    loose = saibench("solve", "--count", env=env, cwd=here)
    strict = saibench("solve", "--count", "--strict-types", env=env, cwd=here)
    mistyped = saibench("solve", "--count", "--model", "mistyped", env=env, cwd=here)
    assert int(strict.stdout) == int(loose.stdout) - int(mistyped.stdout) > 0, strict.stderr


@pytest.mark.slow
def test_saved_weights_never_go_through_a_planted_link(tmp_path: Path) -> None:
    folder, victim = tmp_path / "weights", tmp_path / "victim.txt"
    victim.write_text("precious")
    args = ("--problem", "wine", "--model", "linear", "--save-weights", str(folder))
    first = saibench("run", "--db", str(tmp_path / "a.sqlite"), *args)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(tmp_path / "a.sqlite") as conn:
        (saved,) = {json.loads(details)["weights"] for (details,) in conn.execute("SELECT details FROM runs")}
    os.unlink(saved)
    os.symlink(victim, saved)  # the name is <dir>/<run key>.npz: anyone writing in the folder can guess it
    again = saibench("run", "--db", str(tmp_path / "b.sqlite"), *args)
    assert victim.read_text() == "precious"
    assert os.path.islink(saved)
    assert again.returncode == 1 and "it is a symbolic link" in again.stderr
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left behind
