"""Cheap repetitions (issue 12, item 2): a configuration's repetitions share one pod and
train as one vectorised program; a member that fails fails alone, a batch pod that dies is
run again member by member."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

import saibench_core as sb
from saibench_core.compile import NonFinite, compile_model, fit, fit_many
from saibench_core.discovery import Catalog
from saibench_core.execute.batching import chunked
from sail_types import Classify, Linear, Pipeline, Relu, Training

from . import fake_plugin


@given(st.lists(st.integers(1, 30), min_size=1, max_size=6), st.integers(1, 8), st.integers(1, 16))
def test_chunks_partition_each_group_in_order_keep_workers_busy_and_stay_small(sizes: list[int], workers: int, most: int) -> None:
    groups = [[(g, i) for i in range(n)] for g, n in enumerate(sizes)]
    chunks = chunked(groups, workers, most)
    assert [item for chunk in chunks for item in chunk] == [item for group in groups for item in group]
    assert all(0 < len(chunk) <= most and len({g for g, _ in chunk}) == 1 for chunk in chunks)
    assert len(chunks) >= min(workers, sum(sizes)) or len(chunks) >= len(groups) and len(groups) >= workers
    by_group = [[c for c in chunks if c[0][0] == g] for g in range(len(sizes))]
    assert all(max(map(len, cs)) - min(map(len, cs)) <= 1 for cs in by_group)  # near-equal within a group


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x[:600] / 16).astype(np.float32), y[:600].astype(np.int32)


NET = compile_model(Pipeline(Linear(32), Relu(), Linear(10)), {}, "float32", logits=True)
TRAINING = Training(optax.adam(3e-3), epochs=5, batch_size=50)


def test_vectorised_training_matches_training_each_member_alone() -> None:
    x, y = _digits()
    other = (x[::-1].copy(), y[::-1].copy())  # a member on other data: stacked, not shared
    data = [(x, y), other, (x, y)]
    keys = [jax.random.key(s) for s in (0, 1, 2)]
    together = fit_many(NET, TRAINING, Classify, data, keys=keys)
    for (xi, yi), key, trained in zip(data, keys, together, strict=True):
        alone = fit(NET, TRAINING, Classify, xi, yi, key=key)
        assert not isinstance(trained, NonFinite) and trained.vectorised == 1  # the pod sets it
        np.testing.assert_allclose(trained.epoch_losses, alone.epoch_losses, rtol=1e-4)
        for a, b in zip(jax.tree.leaves(trained.params), jax.tree.leaves(alone.params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    assert together[0].train_seconds < sum(t.train_seconds for t in together if not isinstance(t, NonFinite)) + 1


def test_a_diverging_member_fails_alone() -> None:
    x, y = _digits()
    poisoned = x.copy()
    poisoned[0, 0] = np.nan
    together = fit_many(NET, TRAINING, Classify, [(x, y), (poisoned, y)], keys=[jax.random.key(0), jax.random.key(1)])
    assert not isinstance(together[0], NonFinite) and isinstance(together[1], NonFinite)


def test_repetitions_share_a_pod_and_each_records_it(tmp_path: Path, catalog: Catalog) -> None:
    plan = sb.plan(problem="wine", model="linear", repeat=3, catalog=catalog)
    results = sb.run(plan, db=tmp_path / "batched.sqlite", catalog=catalog)
    assert results.counts["ok"] == 3
    for position, record in enumerate(sorted(results.records, key=lambda r: r.run.seed)):
        assert record.details["batch"] == {"members": 3, "position": position, "repetitions": [[0, 0], [1, 1], [2, 2]]}
        # split 0 carves 108 training samples, splits 1 and 2 carve 107: those two train as one program
        assert record.details["training"]["vectorised"] == (1 if position == 0 else 2)
    alone = sb.run(plan, db=tmp_path / "alone.sqlite", catalog=catalog, batch=False)
    assert all("batch" not in r.details and r.details["training"]["vectorised"] == 1 for r in alone.records)
    by_seed = {r.run.seed: r.metrics["accuracy"] for r in alone.records}
    for record in results.records:  # the same runs, trained together: the same accuracy
        assert record.metrics["accuracy"] == pytest.approx(by_seed[record.run.seed], abs=0.03)


FLAKY = '''
import ctypes, os
from typing import Annotated
from sail_types import Classify, Input, Label, Layer, Linear, Pipeline, Tensor, hookimpl, model

built = []


@model(task=Classify)
def raises_second(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    built.append(1)
    if len(built) == 2:  # the second member of a batch pod; alone, every run builds once
        raise RuntimeError("second build in one process")
    return Pipeline(Linear("k"))


@model(task=Classify)
def crashes_second(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    built.append(1)
    if len(built) == 2:
        ctypes.string_at(0)
    return Pipeline(Linear("k"))


@hookimpl
def saibench_modules():
    return [raises_second, crashes_second]
'''


@pytest.mark.slow
def test_a_member_that_raises_fails_alone_and_a_batch_pod_that_crashes_is_run_again_member_by_member(tmp_path: Path) -> None:
    env = fake_plugin.install(tmp_path, "flaky", FLAKY)
    for model in ("raises_second", "crashes_second"):
        db = tmp_path / f"{model}.sqlite"
        done = subprocess.run([sys.executable, "-m", "saibench_core", "run", "--db", str(db), "--problem", "wine", "--model", model,
                               "--repeat", "3", "--timeout", "60"], capture_output=True, text=True, env=env, timeout=300)
        with sqlite3.connect(db) as conn:
            rows = sorted(conn.execute("SELECT seed, status, reason, details FROM runs").fetchall())
        statuses = [(seed, status) for seed, status, _, _ in rows]
        if model == "raises_second":
            assert done.returncode == 1, done.stderr
            assert statuses == [(0, "ok"), (1, "failed"), (2, "ok")]
            assert rows[1][2].startswith("RuntimeError: second build in one process")
            assert all('"batch"' in details for *_, details in rows)
        else:  # the batch pod died of SIGSEGV: each member again in its own pod, where each builds once
            assert done.returncode == 0, done.stderr
            assert statuses == [(0, "ok"), (1, "ok"), (2, "ok")]
            assert not any('"batch"' in details for *_, details in rows)
