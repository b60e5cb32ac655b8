"""Relations, Z3 constraints, memory fit, submodule slots, sampling and explanations,
each on a small hand-built catalog whose answer is known."""

from __future__ import annotations

from typing import Annotated, Any

import attrs
import pytest

from saibench_core.discovery import Catalog, Descriptor
from saibench_core.discovery.describe import describe
from saibench_core.planner import Planner, sample
from saibench_core.planner.explain import explain_pair, unused
from sail_types import (
    Classify,
    Device,
    Image,
    Input,
    InvalidSignature,
    Label,
    Layer,
    Linear,
    ModuleSpec,
    Pipeline,
    Runtime,
    Suggest,
    Tensor,
    hardware,
    model,
    software,
)


def desc(name: str, kind: str, **kw: Any) -> Descriptor:
    spec = kw.pop("spec", None) or ModuleSpec(kind, task=Classify if kind in ("problem", "model") else None)  # type: ignore[arg-type]
    return Descriptor(name, kind, "t", "0", spec, **kw)  # type: ignore[arg-type]


def base(*extra: Descriptor, memory: int | None = None) -> Catalog:
    return Catalog((
        desc("p", "problem", input=Tensor(8), output=Label(3)),
        desc("q", "problem", input=Tensor(8), output=Label(3), spec=ModuleSpec("problem", task=Classify, field="chemistry")),
        desc("t", "trainer"),
        desc("sw", "software", runtime=Runtime("jax", "0", "float32", ("cpu",))),
        desc("hw", "hardware", device=Device("cpu", memory_bytes=memory)),
        *extra,
    ))


def test_relations_narrow_the_plan_both_ways() -> None:
    only = desc("m", "model", input=Tensor("d"), output=Label("k"), spec=ModuleSpec("model", task=Classify, only_with=("field:chem*",)))
    never = desc("n", "model", input=Tensor("d"), output=Label("k"), spec=ModuleSpec("model", task=Classify, never_with=("problem:p",)))
    runs = {(r.problem, r.model) for r in Planner(base(only, never)).runs()}
    assert runs == {("q", "m"), ("q", "n")}
    reasons = explain_pair(Planner(base(only, never)), base().get("problem", "p"), only)  # type: ignore[arg-type]
    assert [r.requirement for r in reasons] == ["relation"] and "field:chem*" in reasons[0].detail


def test_constraints_prune_grid_points_with_dims_bound() -> None:
    def conv(x: Annotated[Input, Tensor("d")], *, kernel: int = Suggest([3, 8, 9, 16]), width: int = Suggest([4, 32])) -> Annotated[Layer, Label("k")]:
        return Pipeline(Linear("k"))

    conv.__sail__ = ModuleSpec("model", task=Classify, constraints=("kernel <= d", "width >= 2*kernel or kernel < 4"))  # type: ignore[attr-defined]
    m = describe(conv, "t", "0")
    points = {(r.hyper["model"]["kernel"], r.hyper["model"]["width"]) for r in Planner(base(m)).runs() if r.problem == "p"}
    assert points == {(3, 4), (3, 32), (8, 32)}  # 9, 16 exceed d = 8; (8, 4) has width < 16


def test_a_hyperparameter_named_like_a_signature_dim_is_rejected_at_describe_time() -> None:
    @model(task=Classify, constraints=("k <= 3",))
    def knn(x: Annotated[Input, Tensor("d")], *, k: int = Suggest([1, 3])) -> Annotated[Layer, Label("k")]:
        return Pipeline(Linear("k"))

    with pytest.raises(InvalidSignature, match=r"hyperparameter\(s\) \['k'\] have the name\(s\) of dims .*'k' -> 'neighbours'"):
        describe(knn, "t", "0")


def test_constraint_naming_an_unknown_is_rejected_at_describe_time() -> None:
    @model(task=Classify, constraints=("depth <= d",))
    def bad(x: Annotated[Input, Tensor("d")], *, width: int = 3) -> Annotated[Layer, Label("k")]:
        return Pipeline(Linear("k"))

    with pytest.raises(InvalidSignature, match="depth"):
        describe(bad, "t", "0")
    with pytest.raises(InvalidSignature, match="comparison"):
        model(task=Classify, constraints=("import os",))


def test_model_too_big_for_the_hardware_memory_is_left_out_with_the_reason() -> None:
    @model(task=Classify)
    def wide(x: Annotated[Input, Tensor("d")], *, width: int = Suggest([10, 100_000])) -> Annotated[Layer, Label("k")]:
        return Pipeline(Linear(width), Linear("k"))

    m = describe(wide, "t", "0")
    # width 10: 8*10+10 + 10*3+3 = 123 params = 492 bytes; width 100000: 1.2 M params = 4.8 MB
    runs = [r for r in Planner(base(m, memory=1_000_000)).runs() if r.problem == "p"]
    assert [r.hyper["model"]["width"] for r in runs] == [10]
    planner = Planner(base(m, memory=400))
    assert not list(planner.runs())
    reasons = explain_pair(planner, planner.catalog.get("problem", "p"), m)  # type: ignore[arg-type]
    assert {r.requirement for r in reasons} == {"memory"} and "123 parameters" in " ".join(r.detail for r in reasons)


def test_explain_lists_every_violated_dim_not_one_core() -> None:
    # the model wants an 8x8x3 image and 5 classes; the problem gives 8x8x1 and 10 classes
    problem = desc("img", "problem", input=Image(8, 8, 1), output=Label(10))
    m = desc("m", "model", input=Image("h", "h", 3), output=Label(5))
    planner = Planner(Catalog((problem, m)))
    details = [r.detail for r in explain_pair(planner, problem, m) if r.requirement == "dims"]
    assert len(details) == 2
    assert any("dim 3" in d and "(1)" in d and "(3)" in d for d in details)
    assert any("Label" in d and "(10)" in d and "(5)" in d for d in details)


def test_unused_module_reports_fail_reason(catalog: Catalog) -> None:
    found = {f"{d.kind} {d.name}": reasons for d, reasons in unused(Planner(catalog))}
    assert "hardware gpu" in found and found["hardware gpu"][0].requirement == "Fail"
    assert "model mlp_regressor" not in found  # it fills atom_sets' slot


def test_a_set_models_slot_is_filled_by_an_element_converter_and_mlp(catalog: Catalog) -> None:
    runs = [r for r in Planner(catalog).runs() if r.model == "atom_sets" and r.trainer == "adam"]
    assert len(runs) == 1
    (fill,) = runs[0].fills
    assert (fill.slot, fill.model, fill.chain, dict(fill.dims)) == ("phi", "mlp_regressor", ("embed_atom",), {"d": 7})
    assert runs[0].model_label == "atom_sets[phi=embed_atom→mlp_regressor]"
    assert ("converter", "embed_atom") in runs[0].modules()


def test_sample_is_seeded_uniform_and_keeps_order() -> None:
    items = list(range(1000))
    a, b = sample(iter(items), 10, seed=3), sample(iter(items), 10, seed=3)
    assert a == b == sorted(a) and len(set(a)) == 10
    assert sample(iter(items), 10, seed=4) != a
    assert sample(iter(range(5)), 10, seed=0) == list(range(5))
    hits = [0] * 10
    for seed in range(2000):
        for x in sample(iter(range(10)), 3, seed):
            hits[x] += 1
    assert all(500 < h < 700 for h in hits)  # each item kept ~600 times of 2000 (p = 0.3)


def test_relation_entries_are_checked() -> None:
    with pytest.raises(InvalidSignature, match="role:glob"):
        software(only_with=("gpu",))
    with pytest.raises(InvalidSignature, match="role:glob"):
        hardware(never_with=("planet:mars",))
    assert attrs.fields(ModuleSpec).only_with.default == ()


def test_next_cheapest_chains_binding_the_same_dims_are_fallbacks() -> None:
    def conv(name: str, cost: float, out: Any) -> Descriptor:
        return desc(name, "converter", spec=ModuleSpec("converter", cost=cost), input=Image("h", "w", "c"), output=out)

    problem = desc("img", "problem", input=Image(8, 8, 1), output=Label(10))
    m = desc("m", "model", input=Tensor("d"), output=Label("k"))
    catalog = Catalog((problem, m, conv("flat_b", 1.0, Tensor("h*w*c")), conv("flat_a", 1.0, Tensor("h*w*c")),
                       conv("flat_slow", 3.0, Tensor("h*w*c")), conv("flat_worst", 4.0, Tensor("h*w*c")),
                       conv("rows", 0.5, Tensor("h"))))  # cheapest, but binds d = 8, not 64
    found = Planner(catalog).match(problem, m)
    assert not isinstance(found, str)
    assert (found.chain, found.fallbacks, dict(found.dims)) == (("rows",), (), {"d": 8, "k": 10})
    found = Planner(attrs.evolve(catalog, modules=catalog.modules[:-1])).match(problem, m)
    assert (found.chain, found.fallbacks) == (("flat_a",), (("flat_b",), ("flat_slow",)))  # type: ignore[union-attr]
