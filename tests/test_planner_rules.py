"""One set of rules for solve and explain, each case from issue 9 on a hand-built catalog
of real SAIL modules (described from decorated functions, as a third-party plugin's are)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from saibench_core.discovery import Catalog, Descriptor
from saibench_core.discovery.describe import describe
from saibench_core.planner import Planner
from saibench_core.planner.builds import judge_all
from saibench_core.planner.explain import explain_pair, unused
from sail_types import (
    Classify,
    Dataset,
    Device,
    Fail,
    Forecast,
    Input,
    Label,
    Layer,
    Linear,
    Pipeline,
    Regress,
    Runtime,
    Scalar,
    Suggest,
    Task,
    Tensor,
    TimeSeries,
    hardware,
    model,
    problem,
    software,
    trainer,
)

Features = Annotated[NDArray[np.float32], Tensor(4)]
Classes = Annotated[NDArray[np.int32], Label(3)]
Values = Annotated[NDArray[np.float32], Scalar()]


@problem(task=Classify)
def small(*, split_seed: int = 0) -> Dataset[Features, Classes]:
    raise NotImplementedError  # never loaded by the planner


@problem(task=Forecast)
def series(*, window: int = Suggest([8, 16])) -> Dataset[Annotated[NDArray[np.float32], TimeSeries("window", 1)], Values]:
    raise NotImplementedError


@model(task=Classify)
def plain(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([8, 16])) -> Annotated[Layer, Label("k")]:
    return Pipeline(Linear(width), Linear("k"))


@model(task=Regress)
def regressor(x: Annotated[Input, TimeSeries("t", "c")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Linear(1))


@trainer(only_with=("model:other*",))
def picky() -> Any:
    raise NotImplementedError


@trainer()
def anything() -> Any:
    raise NotImplementedError


@software()
def jax_sw() -> Runtime:
    return Runtime("jax", "0", "float32", ("cpu",))


@hardware()
def cpu() -> Device:
    return Device("cpu")


def catalog(*extra: Any) -> Catalog:
    return Catalog(tuple(describe(fn, "t", "0") for fn in (small, series, plain, regressor, anything, jax_sw, cpu, *extra)))


def get(cat: Catalog, kind: Any, name: str) -> Descriptor:
    found = cat.get(kind, name)
    assert found is not None
    return found


def test_a_trainers_relation_naming_a_model_holds_although_the_model_declares_none() -> None:
    cat = catalog(picky)
    runs = list(Planner(cat, contained=False).runs())
    assert {(r.model, r.trainer) for r in runs if r.problem == "small"} == {("plain", "anything")}
    # the pair is feasible (anything fits), so explain says nothing although picky does not fit
    assert explain_pair(Planner(cat, contained=False), get(cat, "problem", "small"), get(cat, "model", "plain")) == []


def test_a_software_relation_naming_a_model_holds() -> None:
    @software(never_with=("model:plain",))
    def only_sw() -> Runtime:
        return Runtime("jax", "0", "float32", ("cpu",))

    cat = Catalog(tuple(m for m in catalog(only_sw).modules if m.name != "jax_sw"))
    planner = Planner(cat, contained=False)
    assert not [r for r in planner.runs() if r.model == "plain"]
    reasons = explain_pair(planner, get(cat, "problem", "small"), get(cat, "model", "plain"))
    assert [r.requirement for r in reasons] == ["relation"] and "never pairs with model:plain" in reasons[0].detail


def test_a_rank_mismatch_is_a_reason_not_feasible() -> None:
    @problem(task=Classify)
    def grid2(*, split_seed: int = 0) -> Dataset[Annotated[NDArray[np.float32], Tensor(2, 2)], Classes]:
        raise NotImplementedError

    cat = catalog(grid2)
    planner = Planner(cat, contained=False)
    assert not [r for r in planner.runs() if r.problem == "grid2" and r.model == "plain"]
    reasons = explain_pair(planner, get(cat, "problem", "grid2"), get(cat, "model", "plain"))
    assert reasons and reasons[0].requirement == "dims" and "differ in rank" in reasons[0].detail


def test_every_violated_rule_is_listed_output_constraint_and_fail() -> None:
    @model(task=Classify, constraints=("width >= 1000",))
    def wrong(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([8, 16])) -> Annotated[Layer, Scalar()]:
        raise Fail("this model only knows molecules")

    cat = catalog(wrong)
    reasons = explain_pair(Planner(cat, contained=False), get(cat, "problem", "small"), get(cat, "model", "wrong"))
    assert {r.requirement for r in reasons} == {"output type", "constraint", "Fail"}
    text = " ".join(r.detail for r in reasons)
    assert "Scalar" in text and "width >= 1000" in text and "only knows molecules" in text


def test_a_models_fail_is_judged_at_plan_time_per_grid_point() -> None:
    @model(task=Classify)
    def narrow(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([2, 8])) -> Annotated[Layer, Label("k")]:
        if width > x.dims["d"]:
            raise Fail(f"width {width} exceeds the {x.dims['d']} input features")
        return Pipeline(Linear(width), Linear("k"))

    cat = catalog(narrow)
    for contained in (False, True):
        runs = [r for r in Planner(cat, contained=contained).runs() if r.model == "narrow"]
        assert [r.hyper["model"] for r in runs] == [{"width": 2}]
    cat = Catalog(tuple(m for m in cat.modules if m.name != "small") + (describe(_wide_problem(), "t", "0"),))
    planner = Planner(cat)
    assert [r.hyper["model"] for r in planner.runs() if r.model == "narrow"] == [{"width": 2}, {"width": 8}]
    assert explain_pair(planner, get(cat, "problem", "wide"), get(cat, "model", "narrow")) == []


def _wide_problem() -> Any:
    @problem(task=Classify)
    def wide() -> Dataset[Annotated[NDArray[np.float32], Tensor(16)], Classes]:
        raise NotImplementedError

    return wide


def test_a_model_that_always_fails_is_left_out_with_its_reason() -> None:
    @model(task=Classify)
    def refuses(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
        raise Fail("needs a GPU-sized problem")

    cat = catalog(refuses)
    planner = Planner(cat)
    assert not [r for r in planner.runs() if r.model == "refuses"]
    (reason,) = explain_pair(planner, get(cat, "problem", "small"), get(cat, "model", "refuses"))
    assert reason.requirement == "Fail" and "needs a GPU-sized problem" in reason.detail
    found = {f"{d.kind} {d.name}": reasons for d, reasons in unused(planner)}
    assert all(r.modules[:2] == ("problem " + r.modules[0].split()[1], "model refuses") for r in found["model refuses"])
    assert {r.modules[0] for r in found["model refuses"]} == {"problem small", "problem series"}


def test_problem_hyperparameters_bind_dims_and_forecast_accepts_regress_models() -> None:
    cat = catalog()
    runs = [r for r in Planner(cat, contained=False).runs() if r.problem == "series"]
    assert sorted((r.hyper["problem"]["window"], r.dims["t"]) for r in runs) == [(8, 8), (16, 16)]
    assert {r.model for r in runs} == {"regressor"}  # a Regress model solves a Forecast problem
    assert explain_pair(Planner(cat), get(cat, "problem", "small"), get(cat, "model", "regressor"))[0].requirement == "task"


def test_a_plugin_task_refining_classify_meets_classify_models() -> None:
    species = Task("Species", refines=Classify)

    @problem(task=species)
    def birds(*, split_seed: int = 0) -> Dataset[Features, Classes]:
        raise NotImplementedError

    cat = catalog(birds)
    runs = [r for r in Planner(cat, contained=False).runs() if r.problem == "birds"]
    assert {r.model for r in runs} == {"plain"} and species.loss == "cross_entropy" and species.prediction == "argmax"


def test_split_seed_is_the_runs_split_not_a_hyperparameter() -> None:
    desc = describe(small, "t", "0")
    assert desc.takes_split_seed and not desc.hyper


def test_plan_time_builds_are_contained() -> None:
    import os
    import signal

    def prints() -> Any:
        print("noise on stdout")  # would corrupt `solve --json` if it reached the terminal
        raise Fail("no")

    def crashes() -> Any:
        os.kill(os.getpid(), signal.SIGSEGV)

    def exits() -> Any:
        os._exit(0)

    built = judge_all([(prints, lambda layer: None), (lambda: Pipeline(Linear(3)), lambda layer: 12)])
    assert built[0].failure == "no" and built[1].parameters == 12
    (crashed,) = judge_all([(crashes, lambda layer: None)])
    assert crashed.failure is None and "SIGSEGV" in (crashed.error or "")
    (exited,) = judge_all([(exits, lambda layer: None)])
    assert exited.failure is None and "exited" in (exited.error or "")
    (hung,) = judge_all([(lambda: __import__("time").sleep(60), lambda layer: None)], timeout=0.5)
    assert hung.failure is None and "did not finish within 0.5 s" in (hung.error or "")
