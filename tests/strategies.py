"""Hypothesis strategies: random catalogs within the class the reference planner decides
by plain substitution (converter and model inputs use bare names or integers), with
converters, submodule slots, relations (also trainers' and software's naming models),
constrained grids, problem hyperparameters that bind dims, a refined task (Forecast
problems meet Regress models), model factories that raise ``Fail``, models fitted without
gradients (``Fitted``: the ``fit`` pseudo-trainer, never a slot filler) and an installed
trainer that takes its reserved name, hardware memory and failing hardware."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st

from saibench_core.discovery import Catalog, Descriptor, HyperParam, Slot
from sail_types import (
    Classify,
    Device,
    Fail,
    Fitted,
    Forecast,
    Input,
    Label,
    Layer,
    Linear,
    ModuleSpec,
    Pipeline,
    Regress,
    Requirement,
    Runtime,
    Sequence,
    Set,
    Tensor,
)

TASKS = (Classify, Regress)
MOSTLY_CLASSIFY = (Classify, Classify, Classify, Regress)
PROBLEM_TASKS = (Classify, Classify, Regress, Forecast)
KINDS = {"Tensor": Tensor, "Sequence": Sequence, "Set": Set}
PROBLEM_KINDS = ["Sequence", "Tensor"]  # models taking a Set need a converter chain


def _type(kind: str, dims: tuple[object, ...]) -> object:
    return KINDS[kind](*dims)


def factory(fail_h0: int | None, fail_d: int | None) -> Callable[..., Layer]:
    """A model factory: ``Linear(8 * h0)`` (so its size depends on the point), raising
    ``Fail`` at ``h0 == fail_h0`` or when dim ``d`` is ``fail_d``."""

    def fn(x: Input, **hyper: Any) -> Layer:
        if fail_h0 is not None and hyper.get("h0") == fail_h0:
            raise Fail(f"h0={fail_h0} is not supported")
        if fail_d is not None and x.dims.get("d") == fail_d:
            raise Fail(f"d={fail_d} is too narrow")
        return Pipeline(Linear(8 * hyper.get("h0", 1)))

    return fn


def fitted_factory(fail_h0: int | None) -> Callable[..., Fitted]:
    """A ``Fitted`` model's factory (predicting zeros), raising ``Fail`` at ``h0 == fail_h0``."""

    def fn(x: Input, **hyper: Any) -> Fitted:
        if fail_h0 is not None and hyper.get("h0") == fail_h0:
            raise Fail(f"h0={fail_h0} is not supported")
        return Fitted(lambda train: lambda q: q[:, :0], how="predicts nothing")

    return fn


@st.composite
def problems(draw: st.DrawFn, i: int) -> Descriptor:
    kind = draw(st.sampled_from(PROBLEM_KINDS))
    rank = 2 if kind != "Tensor" else draw(st.integers(1, 2))
    dims: tuple[object, ...] = tuple(draw(st.integers(2, 4)) for _ in range(rank))
    hyper: tuple[HyperParam, ...] = ()
    if draw(st.integers(0, 3)) == 0:  # a hyperparameter that binds the last dim
        hyper = (HyperParam("n", tuple(sorted(draw(st.sets(st.integers(2, 4), min_size=1, max_size=2))))),)
        dims = dims[:-1] + ("n",)
    spec = ModuleSpec("problem", task=draw(st.sampled_from(PROBLEM_TASKS)), field=draw(st.sampled_from(["f0", "f1"])),
                      only_with=draw(st.sampled_from([()] * 6 + [("model:m0", "model:m2"), ("field:f0",)])),
                      never_with=draw(st.sampled_from([()] * 6 + [("trainer:t1",), ("trainer:fit",)])))
    return Descriptor(f"p{i}", "problem", "gen", "0", spec, input=_type(kind, dims), output=Label(draw(st.integers(2, 3))), hyper=hyper)  # type: ignore[arg-type]


@st.composite
def converters(draw: st.DrawFn, i: int) -> Descriptor:
    kind_in = draw(st.sampled_from(sorted(KINDS)))
    rank_in = 2 if kind_in != "Tensor" else draw(st.integers(1, 2))
    names = ["a", "b"][:rank_in]
    kind_out = draw(st.sampled_from(sorted(set(KINDS) - {kind_in})))
    rank_out = 2 if kind_out != "Tensor" else draw(st.integers(1, 2))
    exprs = st.sampled_from(names + [f"{x}*{y}" for x in names for y in names] + [f"{names[0]}+1", f"{names[0]}-1", "2"])
    out = tuple(draw(exprs) for _ in range(rank_out))
    return Descriptor(f"c{i}", "converter", "gen", "0", ModuleSpec("converter", cost=draw(st.sampled_from([0.5, 1.0, 2.0]))),
                      input=_type(kind_in, tuple(names)), output=_type(kind_out, out))  # type: ignore[arg-type]


@st.composite
def models(draw: st.DrawFn, i: int) -> Descriptor:
    kind = draw(st.sampled_from(["Set", "Set", "Sequence", "Tensor", "Tensor"]))
    rank = 2 if kind != "Tensor" else draw(st.integers(1, 2))
    dims = tuple(draw(st.sampled_from(["d", "e", "d", "e", "k", 2, 4])) for _ in range(rank))
    out = Label(draw(st.sampled_from(["k", "k", 2, 3])))
    hyper = tuple(HyperParam(f"h{j}", tuple(range(1, 1 + draw(st.integers(1, 3))))) for j in range(draw(st.integers(0, 2))))
    names = {h.name for h in hyper} | {d for d in dims if isinstance(d, str)} | {d for d in out.dims if isinstance(d, str)}
    options = ["h0 <= h1", "h0 + 1 < d", "h1 * 2 >= h0 + e", "h0 != 2 or k > 2"]
    usable = [c for c in options if set(c.replace("(", " ").split()) & {"h0", "h1", "d", "e", "k"} <= names]
    constraints = tuple(draw(st.sets(st.sampled_from(usable), max_size=2))) if usable else ()
    task = draw(st.sampled_from(MOSTLY_CLASSIFY))
    slots: tuple[Slot, ...] = ()
    if draw(st.booleans()):
        element = Tensor(dims[1]) if kind == "Set" else Tensor(draw(st.sampled_from(["d", 2, 4] if "d" in dims else [2, 4])))
        slots = (Slot("phi", Requirement(draw(st.sampled_from(MOSTLY_CLASSIFY)), element, Label(draw(st.sampled_from([2, 3]))))),)
    spec = ModuleSpec("model", task=task, field=draw(st.sampled_from(["f0", "f1"])), constraints=constraints,
                      only_with=draw(st.sampled_from([()] * 8 + [("problem:p0",), ("trainer:t0", "problem:p1"), ("field:f1",), ("hardware:hw0",)])),
                      never_with=draw(st.sampled_from([()] * 8 + [("problem:p1",), ("software:s0",)])))
    fn = None
    fitted = not slots and draw(st.integers(0, 3)) == 0
    if fitted and draw(st.booleans()):
        fn = fitted_factory(draw(st.sampled_from([None, 1, 2])))
    elif not fitted and not slots and draw(st.booleans()):
        fn = factory(draw(st.sampled_from([None, 1, 2])), draw(st.sampled_from([None, None, 2, 3])))
    return Descriptor(f"m{i}", "model", "gen", "0", spec, input=_type(kind, dims), output=out, hyper=hyper, slots=slots, fn=fn,  # type: ignore[arg-type]
                      fitted=fitted)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    """A random catalog of every role, with converters, grids, and failing hardware."""
    mods: list[Descriptor] = []
    mods += [draw(problems(i)) for i in range(draw(st.integers(1, 4)))]
    convs = [draw(converters(i)) for i in range(draw(st.integers(0, 6)))]
    if convs and draw(st.booleans()):  # a second implementation of a conversion: a fallback
        twin = draw(st.sampled_from(convs))
        convs.append(attrs.evolve(twin, name=f"{twin.name}_twin", spec=attrs.evolve(twin.spec, cost=draw(st.sampled_from([0.5, 1.0, 2.0])))))
    mods += convs
    mods += [draw(models(i)) for i in range(draw(st.integers(2, 5)))]
    for i in range(draw(st.integers(0, 2))):  # plain classifiers over vectors: the usual slot fillers
        leaf_in = Tensor(draw(st.sampled_from(["d", "d", 2, 4])))
        mods.append(Descriptor(f"leaf{i}", "model", "gen", "0", ModuleSpec("model", task=Classify),
                               input=leaf_in, output=Label(draw(st.sampled_from(["k", 2, 3]))),
                               hyper=(HyperParam("w", (8, 16)),) if draw(st.booleans()) else ()))
    for i in range(draw(st.integers(1, 2))):
        tasks = tuple(draw(st.sets(st.sampled_from(TASKS))))
        never = draw(st.sampled_from([()] * 4 + [("hardware:hw1",), ("model:m1",)]))
        only = draw(st.sampled_from([()] * 6 + [("model:m0", "model:leaf*"), ("problem:p0",)]))
        hyper = (HyperParam("lr", (1, 2)),) if draw(st.booleans()) else ()
        name = "fit" if draw(st.integers(0, 9)) == 0 else f"t{i}"  # the pseudo-trainer's reserved name, now and then
        mods.append(Descriptor(name, "trainer", "gen", "0", ModuleSpec("trainer", tasks=tasks, never_with=never, only_with=only), hyper=hyper))
    for i in range(draw(st.integers(1, 2))):
        plats = tuple(sorted({"cpu"} | draw(st.sets(st.sampled_from(["gpu", "tpu"])))))
        never = draw(st.sampled_from([()] * 6 + [("model:m2",), ("trainer:t1",)]))
        mods.append(Descriptor(f"s{i}", "software", "gen", "0", ModuleSpec("software", never_with=never), runtime=Runtime("jax", "0", "float32", plats)))
    for i in range(draw(st.integers(1, 3))):
        if i == 0 or draw(st.booleans()):
            memory = draw(st.sampled_from([None, None, 300, 600]))
            mods.append(Descriptor(f"hw{i}", "hardware", "gen", "0", ModuleSpec("hardware"),
                                   device=Device(draw(st.sampled_from(["cpu", "gpu"])), memory_bytes=memory)))
        else:
            mods.append(Descriptor(f"hw{i}", "hardware", "gen", "0", ModuleSpec("hardware"), failure="absent"))
    return Catalog(tuple(mods))
