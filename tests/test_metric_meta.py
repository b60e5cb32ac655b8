"""Per-sample metadata (``Fixture.meta``): checked when a fixture is built, carved with the
same rows as its samples, hashed into the dataset's checksum (a fixture without it keeps
its old checksum), and handed to metrics as ``Evaluation.meta`` on the validation and test
fixtures, for trained and fitted runs alike; ``nnse_per_group`` against NumPy by groups."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from saibench_standard import metrics_skill as sk

import sail_types as sail
from saibench_core.data import dataset_checksum
from saibench_core.data.validation import carve_validation
from saibench_core.discovery import Catalog
from saibench_core.execute import run_isolated
from saibench_core.execute.checks import DeclaredTypeError, check_meta
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner, Run
from sail_types import Dataset, Evaluation, InvalidSignature

from . import fake_plugin

# -- the fixture checks its metadata when it is built --------------------------------------


def test_metadata_is_optional_and_becomes_arrays() -> None:
    assert sail.Train(np.zeros((3, 2)), np.zeros(3)).meta == {}
    test = sail.Test(np.zeros((3, 2)), np.zeros(3), meta={"station": ["a", "b", "a"], "weight": np.ones((3, 2))})
    assert isinstance(test.meta["station"], np.ndarray) and test.meta["station"].tolist() == ["a", "b", "a"]
    assert test.meta["weight"].shape == (3, 2) and len(test) == 3


def test_metadata_of_the_wrong_length_names_the_key_both_lengths_and_the_fix() -> None:
    with pytest.raises(InvalidSignature, match=re.escape(
            "Test(meta={'station': ...}): meta['station'] has length 2 along axis 0 but the fixture has 3 samples (len(x)); "
            "give one value per sample, in the order of x: Test(x, y, meta={'station': values}) with len(values) == len(x)")) as caught:
        sail.Test(np.zeros((3, 2)), np.zeros(3), meta={"station": [1, 2]})
    assert isinstance(caught.value, ValueError) and caught.value.module == "Test(meta={'station': ...})"
    with pytest.raises(ValueError, match=r"^Validation\(meta=\{'t': \.\.\.\}\): meta\['t'\] has no batch axis \(a scalar\)"):
        sail.Validation(np.zeros((3, 2)), np.zeros(3), meta={"t": 7})
    with pytest.raises(InvalidSignature, match="a fixture's metadata is a mapping of names to arrays"):
        sail.Train(np.zeros((3, 2)), np.zeros(3), meta=[("id", [1, 2, 3])])  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature, match="metadata is named by strings"):
        sail.Train(np.zeros((3, 2)), np.zeros(3), meta={1: [1, 2, 3]})  # type: ignore[dict-item]
    with pytest.raises(TypeError):  # keyword only: never mistaken for a positional field
        sail.Train(np.zeros((3, 2)), np.zeros(3), {"id": [1, 2, 3]})  # type: ignore[call-arg]


def test_the_engine_check_catches_metadata_changed_after_construction() -> None:
    test = sail.Test(np.zeros((4, 2)), np.zeros(4), meta={"id": np.arange(4)})
    check_meta("problem p", "test", len(test), test.meta)
    test.meta["id"] = np.arange(3)  # type: ignore[index]
    with pytest.raises(DeclaredTypeError, match=re.escape(
            "problem p's test fixture has 4 samples but its metadata 'id' has 3; give one value per sample")):
        check_meta("problem p", "test", len(test), test.meta)


# -- the carve takes the same rows of metadata as of x and y -------------------------------


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 80), seed=st.integers(0, 2**16), classes=st.integers(1, 5), how=st.sampled_from(["random", "stratified", "chronological"]))
def test_a_carve_keeps_metadata_aligned_with_its_samples(n: int, seed: int, classes: int, how: str) -> None:
    rows = np.arange(n)
    labels = np.random.default_rng(seed).integers(0, classes, size=n)
    x = np.stack([rows, -rows], axis=1).astype(np.float64)  # x[:, 0] is the row index
    train = sail.Train(x, labels, meta={"id": rows, "pair": np.stack([rows, 2 * rows], axis=1), "name": [f"r{i}" for i in rows]})
    rest, validation = carve_validation(train, seed=seed, stratify=how == "stratified", chronological=how == "chronological")
    for part in (rest, validation):
        ids = part.meta["id"]
        assert set(part.meta) == {"id", "pair", "name"}
        np.testing.assert_array_equal(ids, part.x[:, 0])
        np.testing.assert_array_equal(part.y, labels[ids])
        np.testing.assert_array_equal(part.meta["pair"], np.stack([ids, 2 * ids], axis=1))
        assert part.meta["name"].tolist() == [f"r{i}" for i in ids]
        assert list(ids) == sorted(ids)  # the fixture's order is kept
    assert sorted([*rest.meta["id"], *validation.meta["id"]]) == list(rows) and len(validation) >= 1


# -- metadata is part of the data's checksum -----------------------------------------------


def _data(**test_meta: Any) -> Dataset[Any, Any]:
    return Dataset(sail.Train(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0], dtype=np.int32)),
                   sail.Test(np.ones((2, 2), dtype=np.float32), np.array([1, 1], dtype=np.int32), meta=test_meta))


def test_a_dataset_without_metadata_keeps_the_checksum_it_had_before_metadata() -> None:
    # computed with saibench_core/data/checksum.py before fixtures had metadata
    assert dataset_checksum(_data()) == "2b20a2c12fcde2d407b835ad690e99749577654dd0d7cb842c4c402ddaf4fe91"
    with_validation = attrs.evolve(_data(), validation=sail.Validation(np.zeros((1, 2)), np.array([1], dtype=np.int32)))
    assert dataset_checksum(with_validation) == "116f6c3340609256ad18a3b2d6f86de4b50d5d3eb651c71dad6e882f8ac0c23a"


def test_changed_metadata_is_a_changed_checksum() -> None:
    plain, tagged = dataset_checksum(_data()), dataset_checksum(_data(station=np.array([1, 2])))
    assert tagged != plain
    assert dataset_checksum(_data(station=np.array([2, 1]))) != tagged  # order
    assert dataset_checksum(_data(site=np.array([1, 2]))) != tagged  # name
    assert dataset_checksum(_data(station=np.array([1, 2], dtype=np.int8))) != tagged  # dtype
    assert dataset_checksum(_data(station=np.array([1, 2]))) == tagged  # deterministic
    objects = [np.array(["a", None], dtype=object) for _ in range(2)]  # distinct objects, equal values
    assert dataset_checksum(_data(station=objects[0])) == dataset_checksum(_data(station=objects[1]))
    assert dataset_checksum(_data(a=[1, 2], b=[3, 4])) == dataset_checksum(_data(b=[3, 4], a=[1, 2]))  # key order


# -- nnse_per_group against NumPy, group by group ------------------------------------------


def _evaluation(y: Any, p: Any, **meta: Any) -> Evaluation:
    return Evaluation(np.asarray(y), np.asarray(p), np.asarray(p), 1.0, 0.1, 0.01, 10, len(y), 1, meta=meta)


def nnse_by_groups(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> float:
    """1/(2 − NSE) in each group with varying targets, then the plain mean over those groups."""
    values = []
    for g in set(groups.tolist()):
        yg, pg = y[groups == g], p[groups == g]
        if yg.var() > 0:
            values.append(1 / (1 + ((yg - pg) ** 2).sum() / ((yg - yg.mean()) ** 2).sum()))
    return float(sum(values) / len(values))


def test_nnse_per_group_is_the_mean_of_nnse_within_each_group() -> None:
    rng = np.random.default_rng(1)
    groups = rng.choice(np.array(["north", "south", "east", "lone"]), size=300, p=[0.5, 0.3, 0.2 - 1e-9, 1e-9])
    groups[0] = "lone"  # one sample: its NSE is undefined, left out of the mean
    y = rng.normal(size=300) + (groups == "north") * 5  # a group's own mean is its baseline, not the fixture's
    p = y + rng.normal(scale=np.where(groups == "south", 2.0, 0.3))
    assert sk.nnse_per_group(_evaluation(y, p, group=groups)) == pytest.approx(nnse_by_groups(y, p, groups))
    one = np.zeros(300, dtype=int)
    assert sk.nnse_per_group(_evaluation(y, p, group=one)) == pytest.approx(sk.nnse(_evaluation(y, p)))
    assert math.isnan(sk.nnse_per_group(_evaluation(y, p)))  # no groups: not measured
    assert math.isnan(sk.nnse_per_group(_evaluation(y, p, group=np.arange(300))))  # every group a single sample
    with pytest.raises(ValueError, match=re.escape('meta["group"] holds one label per sample')):
        sk.nnse_per_group(_evaluation(y, p, group=np.zeros((300, 2))))


# -- end to end: a plugin's metadata reaches its metric, aligned ----------------------------

META = '''
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Evaluation, Fitted, Input, Layer, Linear, Pipeline, Regress, Scalar, Tensor, Test, Train,
                        Validation, hookimpl, metric, model, problem)

Data = Dataset[Annotated[NDArray[np.float32], Tensor(2)], Annotated[NDArray[np.float32], Scalar()]]


def rows(start, n):
    """Samples whose first input is their id; the target follows from the id alone."""
    ids = np.arange(start, start + n)
    x = np.stack([ids, np.sin(ids)], axis=1).astype(np.float32)
    return x, target(ids), ids


def target(ids):
    return (0.01 * ids + np.cos(ids)).astype(np.float32)


@problem(task=Regress)
def tagged() -> Data:
    x, y, ids = rows(0, 60)
    xt, yt, it = rows(1000, 24)
    return Dataset(Train(x, y, meta={"id": ids, "group": ids % 3}), Test(xt, yt, meta={"id": it, "group": it % 4}))


@problem(task=Regress)
def tagged_validation() -> Data:
    x, y, ids = rows(0, 40)
    xv, yv, iv = rows(500, 10)
    xt, yt, it = rows(1000, 12)
    return Dataset(Train(x, y), Test(xt, yt, meta={"id": it}), validation=Validation(xv, yv, meta={"id": iv}))


@problem(task=Regress)
def untagged() -> Data:
    x, y, _ = rows(0, 30)
    xt, yt, _ = rows(1000, 10)
    return Dataset(Train(x, y), Test(xt, yt))


@problem(task=Regress)
def misaligned() -> Data:
    x, y, ids = rows(0, 30)
    xt, yt, it = rows(1000, 10)
    test = Test(xt, yt, meta={"id": it})
    test.meta["id"] = it[:-1]  # changed after Test checked it
    return Dataset(Train(x, y), test)


@problem(task=Regress)
def short() -> Data:
    x, y, ids = rows(0, 30)
    xt, yt, it = rows(1000, 10)
    return Dataset(Train(x, y), Test(xt, yt, meta={"id": it[:-2]}))


@model(task=Regress)
def hundredth_of_id(x: Annotated[Input, Tensor("d")]) -> Annotated[Fitted, Scalar()]:
    return Fitted(lambda train: lambda q: q[:, 0] * 0.01, how="a hundredth of the id")


@model(task=Regress)
def line(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(1))


@metric(goal="max")
def meta_aligned(ev: Annotated[Evaluation, Scalar()]) -> float:
    """1 where every target is the one its metadata id gives, one id per sample."""
    ids = ev.meta.get("id")
    return float(ids is not None and len(ids) == len(ev.y_true) and np.array_equal(target(ids), ev.y_true))


@metric(goal="min")
def meta_first_id(ev: Evaluation) -> float:
    return float(ev.meta["id"][0]) if "id" in ev.meta else float("nan")


@hookimpl
def saibench_modules():
    return [tagged, tagged_validation, untagged, misaligned, short, hundredth_of_id, line, meta_aligned, meta_first_id]
'''


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("meta"), "metatoy", META) as catalog:
        yield catalog


def _run(catalog: Catalog, problem: str, model: str = "hundredth_of_id", **trainer: Any) -> Run:
    run = next(r for r in Planner(catalog).runs() if (r.problem, r.model) == (problem, model))
    return attrs.evolve(run, hyper={**run.hyper, "trainer": {**run.hyper["trainer"], **trainer}})


@pytest.mark.parametrize("model", ["hundredth_of_id", "line"])  # fitted and trained runs
def test_carved_validation_and_test_metadata_reach_metrics_aligned(tagged: Catalog, model: str) -> None:
    out = execute(_run(tagged, "tagged", model, **({"epochs": 2} if model == "line" else {})), tagged)
    assert out["validation_carved"] and out["n_validation"] == 12
    for metrics in (out["metrics"], out["validation_metrics"], out["reference_metrics"]):
        assert metrics["meta_aligned"] == 1.0
    assert out["metrics"]["meta_first_id"] == 1000 and out["validation_metrics"]["meta_first_id"] < 60
    assert 0 < out["metrics"]["nnse_per_group"] <= 1 and 0 < out["validation_metrics"]["nnse_per_group"] <= 1


def test_nnse_per_group_of_a_run_is_numpys_over_the_test_groups(tagged: Catalog) -> None:
    out = execute(_run(tagged, "tagged"), tagged)
    ids = np.arange(1000, 1024)
    y, p = (0.01 * ids + np.cos(ids)).astype(np.float32), (ids * np.float32(0.01)).astype(np.float32)
    assert out["metrics"]["nnse_per_group"] == pytest.approx(nnse_by_groups(y.astype(float), p.astype(float), ids % 4), rel=1e-5)


def test_a_provided_validation_fixture_brings_its_own_metadata(tagged: Catalog) -> None:
    out = execute(_run(tagged, "tagged_validation"), tagged)
    assert not out["validation_carved"]
    assert out["metrics"]["meta_aligned"] == out["validation_metrics"]["meta_aligned"] == 1.0
    assert (out["metrics"]["meta_first_id"], out["validation_metrics"]["meta_first_id"]) == (1000, 500)


def test_without_metadata_metrics_see_an_empty_mapping(tagged: Catalog) -> None:
    out = execute(_run(tagged, "untagged"), tagged)
    assert out["metrics"]["meta_aligned"] == 0.0
    assert math.isnan(out["metrics"]["meta_first_id"]) and math.isnan(out["metrics"]["nnse_per_group"])


def test_metadata_of_the_wrong_length_fails_the_run_naming_it(tagged: Catalog) -> None:
    with pytest.raises(DeclaredTypeError, match=re.escape(
            "problem misaligned's test fixture has 10 samples but its metadata 'id' has 9; give one value per sample")):
        execute(_run(tagged, "misaligned"), tagged)
    outcome = run_isolated(_run(tagged, "short"), timeout=120)
    assert outcome.status == "failed" and outcome.metrics == {}
    assert "meta['id'] has length 8 along axis 0 but the fixture has 10 samples" in outcome.reason, outcome.reason
