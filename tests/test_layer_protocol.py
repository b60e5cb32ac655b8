"""One definition per layer: what a layer says of itself (output shape, parameter count)
is what its compiled ``init`` and ``apply`` do, for every layer SAIL exports; and a
plugin's own layer is sized by the planner and trained end to end like a built-in one."""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import attrs
import jax
import numpy as np
import pytest

import sail_types
from saibench_core.compile import compile_model
from saibench_core.discovery import Catalog
from saibench_core.discovery.describe import describe
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner
from saibench_core.planner.explain import explain_pair
from saibench_core.planner.memory import parameters
from sail_types import (
    Dims,
    Input,
    Label,
    Layer,
    Linear,
    Params,
    Pipeline,
    Shape,
    Tensor,
    model,
)

from . import fake_plugin
from .test_planner_features import base

L = sail_types
# every layer SAIL exports, on an input it accepts: (layer, one sample's shape, dims)
EXAMPLES: dict[type[Layer], tuple[Layer, Shape, dict[str, int]]] = {
    L.Linear: (L.Linear("k"), (6,), {"k": 3}),
    L.Relu: (L.Relu(), (4,), {}), L.Tanh: (L.Tanh(), (4,), {}), L.Gelu: (L.Gelu(), (4,), {}),
    L.Softmax: (L.Softmax(), (4,), {}), L.Identity: (L.Identity(), (3, 2), {}),
    L.Flatten: (L.Flatten(), (3, 4, 2), {}), L.LayerNorm: (L.LayerNorm(), (5, 6), {}),
    L.Dropout: (L.Dropout(0.3), (7,), {}), L.Slice: (L.Slice(1, 3, axis=-1), (4, 5), {}),
    L.Pipeline: (L.Pipeline(L.Linear(8), L.Relu(), L.Linear(2)), (5,), {}),
    L.Residual: (L.Residual(L.Linear(5)), (5,), {}),
    L.Concat: (L.Concat(L.Identity(), L.Conv(3, 3)), (6, 6, 2), {}),
    L.Map: (L.Map(L.Linear(4)), (7, 3), {}), L.Sum: (L.Sum(), (7, 3), {}),
    L.Conv: (L.Conv(4, "kernel", stride=2), (9, 8, 3), {"kernel": 3}),
    L.ConvTranspose: (L.ConvTranspose(4, 3, stride=2), (5, 4, 3), {}),
    L.MaxPool: (L.MaxPool(2), (6, 4, 3), {}), L.AvgPool: (L.AvgPool(3), (9, 2), {}),
    L.Upsample: (L.Upsample(3), (2, 3, 2), {}), L.GroupNorm: (L.GroupNorm(2), (4, 4, 6), {}),
    L.LSTM: (L.LSTM(6, sequences=True), (5, 3), {}), L.GRU: (L.GRU("h"), (5, 3), {"h": 4}),
    L.SelfAttention: (L.SelfAttention(2, causal=True), (5, 8), {}),
    L.TransformerEncoder: (L.TransformerEncoder(2, 16, dropout=0.1), (5, 8), {}),
    L.PositionalEncoding: (L.PositionalEncoding(), (5, 7), {}),
    L.MessagePassing: (L.MessagePassing(5, cutoff=1.0), (6, 4), {}),
    L.JaxModel: (L.JaxModel(init=lambda key, shape: {"w": jax.numpy.ones((shape[-1], 2))}, apply=lambda p, x: x @ p["w"]),
                 (3,), {}),
}
ABSTRACT = {Layer, L.Recurrent, L.Equinox, L.Flax}  # Equinox and Flax are checked in test_jax_models (optional extras)


def test_every_exported_layer_has_an_example() -> None:
    exported = {v for v in vars(sail_types).values() if inspect.isclass(v) and issubclass(v, Layer)}
    assert exported - ABSTRACT == set(EXAMPLES), "add an example for each new layer (and a NumPy reference test)"


def size(params: Any) -> int:
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))


@pytest.mark.parametrize("kind", list(EXAMPLES), ids=lambda k: k.__name__)
def test_a_layer_does_what_it_says(kind: type[Layer]) -> None:
    layer, shape, dims = EXAMPLES[kind]
    compiled = compile_model(layer, dims)
    params, out_shape = compiled.init(jax.random.key(0), shape)
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)
    inference = np.asarray(jax.jit(compiled.apply)(params, x))
    training = np.asarray(jax.jit(lambda p, v, k: compiled.apply(p, v, key=k))(params, x, jax.random.key(1)))
    assert inference.shape == training.shape == (3, *out_shape) and np.all(np.isfinite(inference))
    assert inference.dtype == np.float32 and all(leaf.dtype == np.float32 for leaf in jax.tree_util.tree_leaves(params))
    np.testing.assert_array_equal(np.asarray(jax.jit(compiled.apply)(params, x)), inference)  # inference is deterministic
    # the planner's sizing is the layer's own word, which is what init makes
    assert parameters(layer, shape, dims) == (size(params), out_shape)
    assert Layer.parameter_count(layer, shape, dims) == size(params)  # the eval_shape default agrees
    assert Layer.output_shape(layer, shape, dims) == out_shape


# -- a plugin's own layer ------------------------------------------------------------------


@attrs.frozen
class Scale(Layer):
    """One learned scale per feature, with nothing but init and apply."""

    def init(self, key: Any, shape: Shape, dims: Dims) -> Params:
        return {"scale": jax.numpy.full(shape[-1:], 2.0)}

    def apply(self, params: Params, x: Any, dims: Dims, *, key: Any | None = None) -> Any:
        return x * params["scale"]


def test_a_layer_with_only_init_and_apply_is_sized_by_eval_shape() -> None:
    assert parameters(Pipeline(Scale(), Linear(3)), (4, 5), {}) == (5 + 5 * 3 + 3, (4, 3))
    model_ = compile_model(Scale(), {})
    params, shape = model_.init(jax.random.key(0), (2,))
    assert shape == (2,)
    np.testing.assert_array_equal(np.asarray(model_.apply(params, np.ones((1, 2), np.float32))), [[2.0, 2.0]])


def test_the_planner_sizes_a_plugin_layer_in_its_child_and_leaves_out_what_does_not_fit() -> None:
    @model(task=sail_types.Classify)
    def scaled(x: Annotated[Input, Tensor("d")], *, width: int = sail_types.Suggest([10, 100_000])) -> Annotated[Layer, Label("k")]:
        return Pipeline(Scale(), Linear(width), Linear("k"))

    m = describe(scaled, "t", "0")
    # width 10: 8 scales + 8*10+10 + 10*3+3 = 131 parameters = 524 bytes; width 100000: 4.8 MB
    runs = [r for r in Planner(base(m, memory=1_000_000)).runs() if r.problem == "p"]
    assert [r.hyper["model"]["width"] for r in runs] == [10]
    planner = Planner(base(m, memory=500))
    assert not list(planner.runs())
    reasons = explain_pair(planner, planner.catalog.get("problem", "p"), m)  # type: ignore[arg-type]
    assert "131 parameters" in " ".join(r.detail for r in reasons)


SCALE_PLUGIN = '''
from typing import Annotated, Any

import attrs
import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Dims, Input, Layer, Linear, Params, Pipeline, Regress, Scalar, Shape, Tensor, Test,
                        Train, hookimpl, model, problem)


@attrs.frozen
class Scale(Layer):
    """One learned scale per feature."""

    def output_shape(self, shape: Shape, dims: Dims) -> Shape:
        return shape

    def parameter_count(self, shape: Shape, dims: Dims) -> int:
        return shape[-1]

    def init(self, key: Any, shape: Shape, dims: Dims) -> Params:
        import jax.numpy as jnp

        return {"scale": jnp.ones(shape[-1:])}

    def apply(self, params: Params, x: Any, dims: Dims, *, key: Any | None = None) -> Any:
        return x * params["scale"]


@problem(task=Regress)
def scaled_line() -> Dataset[Annotated[NDArray[np.float32], Tensor(3)], Annotated[NDArray[np.float32], Scalar()]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype(np.float32) * np.array([1.0, 10.0, 0.1], np.float32)
    y = (x @ np.array([1.0, -0.2, 5.0]) + 1.0).astype(np.float32)
    return Dataset(Train(x[:250], y[:250]), Test(x[250:], y[250:]))


@model(task=Regress, only_with=("problem:scaled_line",))
def scaled_linear(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return Pipeline(Scale(), Linear(1))


@hookimpl
def saibench_modules():
    return [scaled_line, scaled_linear]
'''


@pytest.fixture(scope="module")
def scale_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with fake_plugin.installed_catalog(tmp_path_factory.mktemp("scaleplugin"), "scaletoy", SCALE_PLUGIN) as catalog:
        yield catalog


def test_a_plugin_layer_is_planned_sized_and_trained_end_to_end(scale_plugin: Catalog, tmp_path: Path) -> None:
    planner = Planner(scale_plugin)
    run = next(r for r in planner.runs() if (r.problem, r.model, r.trainer) == ("scaled_line", "scaled_linear", "adam"))
    described = scale_plugin.get("model", "scaled_linear")
    assert described is not None
    assert planner.parameters(described, run.dims, run.hyper["model"], run.fills) == 3 + 3 + 1
    run = attrs.evolve(run, hyper={**run.hyper, "trainer": {**run.hyper["trainer"], "epochs": 60, "learning_rate": 0.05}})
    out = execute(run, scale_plugin, save_weights=str(tmp_path / "w.npz"))
    with np.load(tmp_path / "w.npz") as npz:
        weights = dict(npz)
    assert weights["[0]['scale']"].shape == (3,) and not np.allclose(weights["[0]['scale']"], 1.0)  # trained
    losses = out["epoch_losses"]
    assert np.isfinite(losses).all() and losses[-1] < 0.05 * losses[0]


@pytest.mark.parametrize(("net", "shape"), [
    (L.Pipeline(L.PositionalEncoding(), L.TransformerEncoder(2, 16, causal=True), L.Slice(-1), L.Linear(3)), (6, 8)),
    (L.Pipeline(L.Conv(4, 3), L.GroupNorm(2), L.Concat(L.Identity(), L.Pipeline(L.MaxPool(2), L.ConvTranspose(4, 2, stride=2)))),
     (8, 8, 2)),
    (L.Pipeline(L.MessagePassing(8, cutoff=1.0), L.Relu(), L.Sum()), (6, 4)),
], ids=["transformer", "unet-level", "graph"])
def test_new_layers_run_in_bfloat16_close_to_float32(net: Layer, shape: Shape) -> None:
    full, low = compile_model(net, {}), compile_model(net, {}, precision="bfloat16")
    params, _ = full.init(jax.random.key(0), shape)
    x = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
    a, b = np.asarray(jax.jit(full.apply)(params, x)), np.asarray(jax.jit(low.apply)(params, x))
    assert b.dtype == np.float32 and np.all(np.isfinite(b))
    np.testing.assert_allclose(b, a, rtol=0.1, atol=0.1)  # bfloat16 keeps ~3 significant digits
