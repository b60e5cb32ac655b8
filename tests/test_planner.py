from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from saibench_core.discovery import Catalog
from saibench_core.planner import Fill, Planner
from saibench_core.planner.dims import unify
from saibench_core.planner.explain import explain_pair
from sail_types import Image, Label, Tensor

from .reference_planner import reference_plan
from .strategies import catalogs


def _fill(f: Fill) -> tuple[object, ...]:
    return (f.slot, f.model, f.chain, tuple(sorted(f.dims.items())), tuple(f.hyper.items()), tuple(map(_fill, f.fills)))


def as_tuples(catalog: Catalog, max_chain: int = 3) -> set[tuple[object, ...]]:
    return {
        (r.problem, r.model, r.trainer, r.software, r.hardware, r.chain, r.chain_cost,
         tuple(sorted(r.dims.items())), tuple(r.hyper["problem"].items()), tuple(r.hyper["model"].items()),
         tuple(r.hyper["trainer"].items()), r.fallbacks, tuple(map(_fill, r.fills)))
        for r in Planner(catalog, max_chain=max_chain, contained=False).runs()
    }


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_planner_agrees_with_reference_on_random_catalogs(catalog: Catalog) -> None:
    assert as_tuples(catalog) == reference_plan(catalog)


@settings(max_examples=50, deadline=None)
@given(catalogs())
def test_planner_agrees_with_short_chain_cap(catalog: Catalog) -> None:
    assert as_tuples(catalog, max_chain=1) == reference_plan(catalog, max_chain=1)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogs())
def test_explain_is_empty_exactly_when_solve_plans_the_pair(catalog: Catalog) -> None:
    planner = Planner(catalog, contained=False)
    planned = {(r.problem, r.model) for r in planner.runs()}
    for problem in catalog.of("problem"):
        for model in catalog.of("model"):
            reasons = explain_pair(planner, problem, model)
            assert (not reasons) == ((problem.name, model.name) in planned), (problem.name, model.name, reasons)
            assert all(r.detail and r.requirement for r in reasons)
    left = {lo.modules for lo in planner.left_out()}
    for problem in catalog.of("problem"):
        for model in catalog.of("model"):
            if (problem.name, model.name) not in planned:
                assert (f"problem {problem.name}", f"model {model.name}") in left


def test_z3_inverts_products() -> None:
    # a model that needs h*w*c features reached from an 8x8x1 image: d must be 64
    found = unify(((("problem", Image(8, 8, 1)), ("c0", Image("h", "w", "c"))),
                   (("c0", Tensor("h*w*c")), ("model", Tensor("d")))))
    assert found is not None and found["model"] == {"d": 64}
    assert unify(((("problem", Tensor(7)), ("model", Tensor("2*n"))),)) is None
    assert unify(((("problem", Tensor(8)), ("model", Tensor("2*n"))),)) == {"model": {"n": 4}}
    assert unify(((("problem", Label(3)), ("model", Tensor(3))),)) is None


def test_bundled_plan_reaches_mlp_through_flatten(catalog: Catalog) -> None:
    plan = Planner(catalog).plan()
    digits_mlp = [r for r in plan.runs if r.problem == "digits" and r.model == "mlp"]
    assert digits_mlp and all(r.chain == ("flatten",) and r.dims == {"d": 64, "k": 10} for r in digits_mlp)
    assert {r.hyper["model"]["width"] for r in digits_mlp} == {256, 64}
    assert all(r.hardware == "cpu" for r in plan.runs)
    assert {"accuracy", "macro_f1", "train_time"} <= set(digits_mlp[0].metrics)
    reasons = {lo.modules: lo.reason for lo in plan.left_out}
    assert "Fail" in reasons[("hardware gpu",)]


def test_cheapest_feasible_chain_wins() -> None:
    from saibench_core.discovery import Descriptor
    from sail_types import Classify, ModuleSpec, Sequence, Set

    def conv(name: str, cost: float, inp: object, out: object) -> Descriptor:
        return Descriptor(name, "converter", "t", "0", ModuleSpec("converter", cost=cost), input=inp, output=out)  # type: ignore[arg-type]

    problem = Descriptor("p", "problem", "t", "0", ModuleSpec("problem", task=Classify), input=Tensor(6), output=Label(3))
    model = Descriptor("m", "model", "t", "0", ModuleSpec("model", task=Classify), input=Set("n", 2), output=Label("k"))
    catalog = Catalog((problem, model,
                       conv("expensive", 5.0, Tensor("a"), Set("a//2", 2)),
                       conv("to_seq", 1.0, Tensor("a"), Sequence("a//2", 2)),
                       conv("seq_to_set", 1.0, Sequence("a", "b"), Set("a", "b")),
                       conv("wrong_dims", 0.5, Tensor("a"), Set("a", 3))))
    found = Planner(catalog).match(problem, model)
    assert not isinstance(found, str)
    assert found.chain == ("to_seq", "seq_to_set") and found.cost == 2.0 and found.dims == {"n": 3, "k": 3}
    assert Planner(catalog, max_chain=1).match(problem, model).chain == ("expensive",)  # type: ignore[union-attr]
