"""Pre-training then fine-tuning (``Pretrain``): planned as a dependency, run in order by the
local pool and Dask, the encoder's weights carried over and the head initialised afresh,
a failed dependency failing its dependents with its reason, and a campaign SIGKILLed
between the two waves resuming without training the pre-training run again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import saibench_core as sb
from saibench_core.discovery import Catalog
from saibench_core.planner import Run
from saibench_core.results.export import rows

from . import fake_plugin

PLUGIN = '''
import os
import time
from pathlib import Path
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Input, Layer, Linear, Pipeline, Pretrain, Regress, Scalar, Tanh, Tensor, Test, Train, Training,
                        hookimpl, model, problem, trainer)

Data = Dataset[Annotated[NDArray[np.float32], Tensor(4)], Annotated[NDArray[np.float32], Scalar()]]


def data(seed, weights):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    y = np.tanh(x @ np.asarray(weights, dtype=np.float32))
    return Dataset(Train(x[:64], y[:64]), Test(x[64:], y[64:]))


@problem(task=Regress, field="pretraining")
def pre_task() -> Data:
    calls = os.environ.get("PRETOY_CALLS")
    if calls:
        with open(calls, "a") as f:
            f.write("x")
    if os.environ.get("PRETOY_FAIL"):
        raise RuntimeError("the pre-training data are broken")
    return data(0, [1.0, -1.0, 0.5, 0.0])


@problem(task=Regress, field="pretraining")
def fine_task() -> Data:
    slow = os.environ.get("PRETOY_SLOW")  # the first load (the campaign's probe) marks it; the next (the run's) waits
    if slow and Path(slow).exists():
        if Path(slow + ".probed").exists():
            time.sleep(60)
        Path(slow + ".probed").touch()
    return data(1, [1.0, -1.0, 0.5, 0.2])


@model(task=Regress, only_with=("problem:pre_task",))
def encoder_net(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Pipeline(Linear(8), Tanh()), Linear(1))


@model(task=Regress, only_with=("problem:fine_task",), pretrain=Pretrain("pre_task", "encoder_net", keep="[0]", trainer="still"))
def tuned_net(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Pipeline(Linear(8), Tanh()), Pipeline(Linear(5), Tanh(), Linear(1)))


@trainer(tasks=(Regress,))
def still(*, learning_rate: float = 0.05) -> Training:
    """SGD; with learning_rate=0 the parameters stay as initialised (or loaded)."""
    import optax
    return Training(optax.sgd(learning_rate), epochs=3, batch_size=16)


@hookimpl
def saibench_modules():
    return [pre_task, fine_task, encoder_net, tuned_net, still]
'''


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, Path]]:
    where = tmp_path_factory.mktemp("pretoy")
    with fake_plugin.installed_catalog(where, "pretoy", PLUGIN) as catalog:
        yield catalog, where


@pytest.fixture()
def weights_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAIBENCH_WEIGHTS", str(tmp_path / "weights"))
    return tmp_path / "weights"


def _plan(catalog: Catalog, **kwargs: object) -> list[Run]:
    return list(sb.plan(problem="fine_task", model="tuned_net", trainer="still", catalog=catalog, **kwargs))  # type: ignore[arg-type]


def test_the_planner_plans_the_pretraining_run_first_and_both_starts(toy: tuple[Catalog, Path]) -> None:
    catalog, _ = toy
    runs = _plan(catalog)
    assert [(r.problem, r.model, r.origin) for r in runs] == [
        ("pre_task", "encoder_net", ""), ("fine_task", "tuned_net", ""), ("fine_task", "tuned_net", "pre_task×encoder_net")]
    tuned = runs[2]
    assert tuned.pretraining == runs[0] and tuned.start_keep == "[0]"
    assert ("model", "encoder_net") in tuned.modules()  # its key covers the modules its weights come from
    assert Run.from_json(tuned.to_json()) == tuned
    assert sb.plan(problem="fine_task", model="tuned_net", trainer="still", catalog=catalog).count() == 3
    repeated = _plan(catalog, repeat=2, vary="seed")
    assert sum(r.model == "encoder_net" for r in repeated) == 2  # one pre-training run per seed
    assert {(r.seed, r.pretraining.seed) for r in repeated if r.pretraining} == {(0, 0), (1, 1)}


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_a_campaign_runs_pretraining_first_and_carries_the_encoder_only(toy: tuple[Catalog, Path], weights_home: Path,
                                                                        tmp_path: Path, executor: str) -> None:
    catalog, _ = toy
    runs = [r for r in _plan(catalog) if not (r.model == "tuned_net" and not r.start_from)]
    runs = [r if r.model == "encoder_net" else _frozen(r) for r in runs]  # the fine-tuned run keeps what it loads
    results = sb.run(runs, db=tmp_path / "db.sqlite", catalog=catalog, executor=executor, jobs=2, save_weights=tmp_path / "saved")
    assert results.counts == {"ok": 2, "failed": 0, "skipped": 0}
    (pre,) = (r for r in results.records if r.run.model == "encoder_net")
    (tuned,) = (r for r in results.records if r.run.model == "tuned_net")
    assert tuned.details["started_from"] == {"run": "pre_task×encoder_net", "keep": "[0]"}
    with np.load(weights_home / f"{pre.key}.npz") as a, np.load(tmp_path / "saved" / f"{tuned.key[:16]}.npz") as b:
        kept, loaded = dict(a), dict(b)
    encoder = [k for k in kept if k.startswith("[0]")]
    assert encoder and all(np.array_equal(kept[k], loaded[k]) for k in encoder)  # carried over exactly
    assert "[1][0]['w']" in loaded and loaded["[1][0]['w']"].shape == (8, 5)  # a new head, of its own shape
    labels = {e.label for board in results.leaderboards() for e in board.entries if e.run.problem == "fine_task"}
    assert labels == {"tuned_net ← pre_task×encoder_net"}
    assert [row["started_from"] for row in rows(results.records)] in (["", "pre_task×encoder_net"], ["pre_task×encoder_net", ""])


def _frozen(run: Run) -> Run:
    import attrs

    return attrs.evolve(run, hyper={**run.hyper, "trainer": {"learning_rate": 0.0}})


def test_a_failed_pretraining_run_fails_its_dependent_with_the_reason(toy: tuple[Catalog, Path], weights_home: Path,
                                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, _ = toy
    monkeypatch.setenv("PRETOY_FAIL", "1")
    results = sb.run(_plan(catalog), db=tmp_path / "db.sqlite", catalog=catalog)
    assert results.counts["failed"] == 2 and results.counts["ok"] == 1  # the pre-training run and its dependent
    (tuned,) = (r for r in results.records if r.run.start_from)
    assert tuned.reason.startswith("its pre-training run pre_task × encoder_net (")
    assert "did not succeed" in tuned.reason and tuned.details["stage"] == "pre-training"


@pytest.mark.slow
def test_sigkill_between_pretraining_and_finetuning_loses_nothing(toy: tuple[Catalog, Path], tmp_path: Path) -> None:
    _, where = toy
    db, slow, calls = tmp_path / "db.sqlite", tmp_path / "slow", tmp_path / "calls"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(where), os.environ.get("PYTHONPATH", "")]),
           "SAIBENCH_WEIGHTS": str(tmp_path / "weights"), "PRETOY_SLOW": str(slow), "PRETOY_CALLS": str(calls),
           "SAIBENCH_DATA_CACHE": "off"}
    args = [sys.executable, "-m", "saibench_core", "run", "--db", str(db), "--problem", "fine_task", "--model", "tuned_net", "--trainer", "still"]
    slow.touch()  # the fine-tuning problem's data take a minute: the runner is killed while it waits
    runner = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT count(*) FROM runs WHERE status = 'ok'").fetchone()[0] >= 1:
                        break
            except sqlite3.OperationalError:
                continue
    finally:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT model FROM runs WHERE status = 'ok'").fetchall()
    assert stored == [("encoder_net",)]
    trained_before = len(calls.read_text())
    slow.unlink()
    resumed = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 ok, 0 failed, 1 already stored" in resumed.stderr
    assert len(calls.read_text()) == trained_before + 1  # the probe loads it once more; nothing trains it again
