"""Any JAX model under a SAIL signature: a pure ``(init, apply)`` pair, an Equinox module and a
Flax module (optional extras) are planned, sized by ``jax.eval_shape`` and trained by the same
loop; builders follow the run's key, dropout is random while training only."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from saibench_core.compile import compile_model, fit
from saibench_core.discovery import Catalog, load_catalog
from saibench_core.errors import InvalidSignature
from saibench_core.execute.pod import execute
from saibench_core.planner import Planner
from saibench_core.planner.memory import parameters
from sail_types import Equinox, Flax, JaxModel, Pipeline, Softmax, Training
from sail_types._models import as_layer

from . import fake_plugin

PLUGIN = '''
import importlib.util
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Equinox, Flax, Input, JaxModel, Layer, Params, Regress, Scalar, Shape, Tensor, Test,
                        Train, hookimpl, model, problem)


def init(key: Any, shape: Shape) -> Params:
    import jax
    import jax.numpy as jnp

    return {"w": jax.random.normal(key, (shape[-1], 1)) * 0.1, "b": jnp.zeros((1,))}


def apply(params: Params, x: Any) -> Any:
    return x @ params["w"] + params["b"]


@problem(task=Regress)
def jax_line() -> Dataset[Annotated[NDArray[np.float32], Tensor(3)], Annotated[NDArray[np.float32], Scalar()]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3).astype(np.float32)
    return Dataset(Train(x[:250], y[:250]), Test(x[250:], y[250:]))


@model(task=Regress, only_with=("problem:jax_line",))
def pair(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    return JaxModel(init=init, apply=apply)


@model(task=Regress, only_with=("problem:jax_line",))
def eqx_mlp(x: Annotated[Input, Tensor("d")], *, width: int = 16) -> Annotated[Layer, Scalar()]:
    import equinox as eqx
    import jax

    return Equinox(eqx.nn.MLP(x.dims["d"], 1, width, 1, key=jax.random.key(0)))


@model(task=Regress, only_with=("problem:jax_line",))
def eqx_linear(x: Annotated[Input, Tensor("d")]) -> Annotated[Any, Scalar()]:
    import equinox as eqx
    import jax

    return eqx.nn.Linear(x.dims["d"], 1, key=jax.random.key(1))  # a bare module: saibench wraps it


@model(task=Regress, only_with=("problem:jax_line",))
def eqx_built(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    import equinox as eqx

    d = x.dims["d"]
    return Equinox(lambda key: eqx.nn.MLP(d, 1, 16, 1, key=key))  # built with the run's key


@model(task=Regress, only_with=("problem:jax_line",))
def flax_linen(x: Annotated[Input, Tensor("d")]) -> Annotated[Any, Scalar()]:
    import flax.linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, *, deterministic: bool = True):
            h = nn.Dropout(0.05)(nn.tanh(nn.Dense(16)(x)), deterministic=deterministic)
            return nn.Dense(1)(h)

    return Net()  # a bare linen module: saibench wraps it


@model(task=Regress, only_with=("problem:jax_line",))
def flax_nnx(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Scalar()]:
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, d: int, rngs: nnx.Rngs):
            self.hidden = nnx.Linear(d, 16, rngs=rngs)
            self.dropout = nnx.Dropout(0.05, rngs=rngs)
            self.out = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(self.dropout(nnx.tanh(self.hidden(x))))

    d = x.dims["d"]
    return Flax(lambda rngs: Net(d, rngs))


@model(task=Regress, only_with=("problem:jax_line",))
def flax_nnx_bare(x: Annotated[Input, Tensor("d")]) -> Annotated[Any, Scalar()]:
    from flax import nnx

    return nnx.Linear(x.dims["d"], 1, rngs=nnx.Rngs(0))  # a bare nnx module: saibench wraps it


MODULES = [jax_line, pair, eqx_mlp, eqx_linear, eqx_built]
if importlib.util.find_spec("flax") is not None:
    MODULES += [flax_linen, flax_nnx, flax_nnx_bare]


@hookimpl
def saibench_modules():
    return MODULES
'''
HAS_FLAX = importlib.util.find_spec("flax") is not None


def linear_init(key: jax.Array, shape: tuple[int, ...]) -> dict[str, jax.Array]:
    return {"w": jax.random.normal(key, (shape[-1], 2)), "b": jnp.zeros((2,))}


def test_an_init_apply_pair_compiles_sizes_and_sits_in_a_pipeline() -> None:
    pair = JaxModel(init=linear_init, apply=lambda p, x: x @ p["w"] + p["b"])
    assert parameters(pair, (5,), {}) == (12, (2,))
    compiled = compile_model(Pipeline(pair, Softmax()), {})
    params, shape = compiled.init(jax.random.key(0), (5,))
    assert shape == (2,) and compiled.outputs_probabilities
    x = np.ones((3, 5), np.float32)
    w, b = np.asarray(params[0]["w"]), np.asarray(params[0]["b"])
    np.testing.assert_allclose(np.asarray(jax.jit(compiled.apply)(params, x)), x @ w + b, rtol=1e-5)
    with pytest.raises(InvalidSignature, match="a model returns a SAIL layer"):
        compile_model(object(), {})


def test_a_random_pair_gets_a_key_while_training_only() -> None:
    seen: list[bool] = []

    def noisy(params: Any, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        seen.append(key is not None)
        y: jax.Array = x @ params["w"] + params["b"]
        return y if key is None else y + 0.01 * jax.random.normal(key, y.shape)

    model = compile_model(JaxModel(init=linear_init, apply=noisy, random=True), {})
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    trained = fit(model, Training(optax.adam(1e-2), epochs=2, batch_size=16), "squared_error", x, x[:, :2], key=jax.random.key(0))
    assert np.isfinite(trained.epoch_losses).all() and seen[-1]
    jax.jit(model.apply)(trained.params, x)
    assert not seen[-1]


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pytest.importorskip("equinox")
    return fake_plugin.install(tmp_path_factory.mktemp("jaxmodels"), "jaxtoy", PLUGIN)


@pytest.fixture(scope="module")
def plugin(plugin_env: dict[str, str]) -> Iterator[Catalog]:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(plugin_env["PYTHONPATH"])
        yield load_catalog()


SIZES = {"pair": 4, "eqx_mlp": 3 * 16 + 16 + 16 + 1, "eqx_linear": 4, "eqx_built": 3 * 16 + 16 + 16 + 1}
if HAS_FLAX:
    SIZES |= {"flax_linen": 3 * 16 + 16 + 16 + 1, "flax_nnx": 3 * 16 + 16 + 16 + 1, "flax_nnx_bare": 4}
SIZE_IN_A_FRESH_PLANNER = """
import importlib.util
import json
import sys
# imported, not started (no backend): each model's forked child then spends its plan-time
# limit (BUILD_SECONDS) on tracing, not on importing JAX and Flax anew, on a loaded machine too
import jax
import equinox
if importlib.util.find_spec("flax") is not None:
    import flax.linen, flax.nnx
from saibench_core.discovery import load_catalog
from saibench_core.planner import Planner
catalog = load_catalog()
planner = Planner(catalog)  # contained: the models are built and sized in its forked child
names = sys.argv[1:]
runs = {r.model: r for r in planner.runs() if r.problem == "jax_line" and r.model in names}
print(json.dumps({name: planner.parameters(catalog.get("model", name), r.dims, r.hyper["model"], r.fills)
                  for name, r in runs.items()}))
"""


def test_the_planner_sizes_jax_models_in_its_child(plugin_env: dict[str, str]) -> None:
    # a fresh process, as `saibench solve` is: a forked child cannot run JAX computations once
    # the parent's JAX backend is up (as it is in this test process), only trace them
    out = subprocess.run([sys.executable, "-c", SIZE_IN_A_FRESH_PLANNER, *SIZES], env=plugin_env, capture_output=True,
                         text=True, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == SIZES


@pytest.mark.parametrize("name", list(SIZES))
def test_a_jax_model_is_planned_and_trained(plugin: Catalog, name: str) -> None:
    planner = Planner(plugin, contained=False)
    run = next(r for r in planner.runs() if (r.problem, r.model, r.trainer) == ("jax_line", name, "adam"))
    described = plugin.get("model", name)
    assert described is not None
    assert planner.parameters(described, run.dims, run.hyper["model"], run.fills) == SIZES[name]
    run = attrs.evolve(run, hyper={**run.hyper, "trainer": {**run.hyper["trainer"], "epochs": 30, "learning_rate": 0.03}})
    out = execute(run, plugin)
    losses = out["epoch_losses"]
    assert np.isfinite(losses).all() and losses[-1] < 0.1 * losses[0], losses
    assert out["metrics"]["mae"] < 0.5


def leaves_equal(a: Any, b: Any) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


X = np.random.default_rng(1).normal(size=(8, 5)).astype(np.float32)


def test_an_equinox_builder_is_built_with_the_run_key() -> None:
    eqx = pytest.importorskip("equinox")

    def build(key: jax.Array) -> Any:
        return eqx.nn.MLP(5, 2, 8, 1, key=key)

    layer = Equinox(build)
    assert parameters(layer, (5,), {}) == (5 * 8 + 8 + 8 * 2 + 2, (2,))
    model = compile_model(layer, {})
    p0, _ = model.init(jax.random.key(0), (5,))
    assert leaves_equal(p0, model.init(jax.random.key(0), (5,))[0])
    assert not leaves_equal(p0, model.init(jax.random.key(1), (5,))[0])
    # the numbers: the module built with the same key, called on each sample by hand
    reference = np.stack([np.asarray(build(jax.random.key(0))(jnp.asarray(row))) for row in X])
    np.testing.assert_allclose(np.asarray(jax.jit(model.apply)(p0, X)), reference, rtol=1e-5, atol=1e-6)
    # a module itself keeps its plugin's weights, whatever the run's key
    fixed = Equinox(build(jax.random.key(3)))
    assert leaves_equal(fixed.init(jax.random.key(0), (5,), {}), fixed.init(jax.random.key(1), (5,), {}))
    with pytest.raises(InvalidSignature, match="not an equinox.Module"):
        Equinox(lambda key: jnp.zeros(3)).parameter_count((5,), {})
    with pytest.raises(InvalidSignature, match="a module or a builder"):
        Equinox(3)


def test_equinox_dropout_gets_a_key_per_sample_while_training_and_none_at_inference() -> None:
    eqx = pytest.importorskip("equinox")

    class Dropped(eqx.Module):  # type: ignore[misc]
        linear: Any
        dropout: Any

        def __init__(self, key: jax.Array) -> None:
            self.linear = eqx.nn.Linear(5, 2, key=key)
            self.dropout = eqx.nn.Dropout(0.5)

        def __call__(self, x: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
            y: jax.Array = self.linear(self.dropout(x, key=key))
            return y

    model = compile_model(Equinox(Dropped), {})
    x = np.repeat(X[:1], 16, axis=0)  # one sample, sixteen times: per-sample keys drop differently
    trained = fit(model, Training(optax.adam(1e-2), epochs=2, batch_size=16), "squared_error", x, x[:, :2], key=jax.random.key(0))
    assert np.isfinite(trained.epoch_losses).all()
    apply = jax.jit(model.apply)
    first, again = np.asarray(apply(trained.params, x)), np.asarray(apply(trained.params, x))
    np.testing.assert_array_equal(first, again)
    module = eqx.combine(trained.params, eqx.partition(Dropped(jax.random.key(0)), eqx.is_inexact_array)[1])
    np.testing.assert_allclose(first[0], np.asarray(module.linear(jnp.asarray(x[0]))), rtol=1e-5, atol=1e-6)  # no dropout
    a, b = np.asarray(apply(trained.params, x, key=jax.random.key(1))), np.asarray(apply(trained.params, x, key=jax.random.key(2)))
    assert not np.array_equal(a, b) and len({row.tobytes() for row in a}) > 1

    class Keyless(eqx.Module):  # type: ignore[misc]
        scale: jax.Array

        def __call__(self, x: jax.Array) -> jax.Array:
            return x * self.scale

    keyless = Equinox(Keyless(jnp.float32(2.0)))  # called as it is, with no key
    np.testing.assert_allclose(np.asarray(keyless.apply(keyless.init(jax.random.key(0), (5,), {}), X, {}, key=jax.random.key(0))), 2 * X)


def linen_net(flag: str) -> Any:
    """A linen MLP with dropout, told by ``flag`` (``deterministic`` or ``train``) when to drop."""
    nn = pytest.importorskip("flax.linen")

    class Deterministic(nn.Module):  # type: ignore[misc]
        @nn.compact
        def __call__(self, x: jax.Array, *, deterministic: bool = True) -> jax.Array:
            out: jax.Array = nn.Dense(2)(nn.Dropout(0.5)(nn.relu(nn.Dense(8)(x)), deterministic=deterministic))
            return out

    class Train(nn.Module):  # type: ignore[misc]
        @nn.compact
        def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
            out: jax.Array = nn.Dense(2)(nn.Dropout(0.5, deterministic=not train)(nn.relu(nn.Dense(8)(x))))
            return out

    return Deterministic() if flag == "deterministic" else Train()


@pytest.mark.parametrize("flag", ["deterministic", "train"])
def test_a_linen_module_is_initialised_with_the_run_key_and_matches_its_own_apply(flag: str) -> None:
    net = linen_net(flag)
    layer = as_layer(net)  # a bare linen module is wrapped
    assert isinstance(layer, Flax)
    own = net.init(jax.random.key(0), jnp.zeros((1, 5)))["params"]
    assert parameters(layer, (5,), {}) == (sum(a.size for a in jax.tree.leaves(own)), (2,)) == (5 * 8 + 8 + 8 * 2 + 2, (2,))
    model = compile_model(layer, {})
    p0, _ = model.init(jax.random.key(0), (5,))
    assert leaves_equal(p0, model.init(jax.random.key(0), (5,))[0])
    assert not leaves_equal(p0, model.init(jax.random.key(1), (5,))[0])
    at_inference, training = {flag: flag == "deterministic"}, {flag: flag == "train"}
    apply = jax.jit(model.apply)
    np.testing.assert_allclose(np.asarray(apply(p0, X)), np.asarray(net.apply({"params": p0}, X, **at_inference)),
                               rtol=1e-5, atol=1e-6)
    key = jax.random.key(7)
    np.testing.assert_allclose(np.asarray(apply(p0, X, key=key)),
                               np.asarray(net.apply({"params": p0}, X, rngs={"dropout": key}, **training)), rtol=1e-5, atol=1e-6)
    assert not np.array_equal(np.asarray(apply(p0, X, key=key)), np.asarray(apply(p0, X, key=jax.random.key(8))))


def test_flax_modules_with_state_besides_parameters_are_refused() -> None:
    nn = pytest.importorskip("flax.linen")
    from flax import nnx

    class Normed(nn.Module):  # type: ignore[misc]
        @nn.compact
        def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
            out: jax.Array = nn.BatchNorm(use_running_average=not train)(nn.Dense(4)(x))
            return out

    with pytest.raises(InvalidSignature, match=r"\['batch_stats'\].*use nn.LayerNorm or nn.GroupNorm"):
        parameters(Normed(), (5,), {})
    with pytest.raises(InvalidSignature, match=r"batch_stats"):
        compile_model(Normed(), {}).init(jax.random.key(0), (5,))
    with pytest.raises(InvalidSignature, match=r"mean \(BatchStat\).*use nnx.LayerNorm or nnx.GroupNorm"):
        parameters(Flax(lambda rngs: nnx.BatchNorm(5, rngs=rngs)), (5,), {})


def test_an_nnx_builder_is_built_with_the_run_key_and_matches_its_own_call() -> None:
    nnx = pytest.importorskip("flax.nnx")

    class Net(nnx.Module):  # type: ignore[misc]
        def __init__(self, rngs: Any) -> None:
            self.hidden = nnx.Linear(5, 8, rngs=rngs)
            self.dropout = nnx.Dropout(0.5, rngs=rngs)
            self.out = nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            y: jax.Array = self.out(self.dropout(nnx.relu(self.hidden(x))))
            return y

    layer = Flax(Net)
    assert parameters(layer, (5,), {}) == (5 * 8 + 8 + 8 * 2 + 2, (2,))
    model = compile_model(layer, {})
    p0, _ = model.init(jax.random.key(0), (5,))
    assert leaves_equal(p0, model.init(jax.random.key(0), (5,))[0])
    assert not leaves_equal(p0, model.init(jax.random.key(1), (5,))[0])
    own = Net(nnx.Rngs(jax.random.key(0)))
    own.eval()
    apply = jax.jit(model.apply)
    np.testing.assert_allclose(np.asarray(apply(p0, X)), np.asarray(own(jnp.asarray(X))), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(apply(p0, X)), np.asarray(apply(p0, X)))
    assert not np.array_equal(np.asarray(apply(p0, X, key=jax.random.key(1))), np.asarray(apply(p0, X, key=jax.random.key(2))))
    trained = fit(model, Training(optax.adam(1e-2), epochs=2, batch_size=4), "squared_error", X, X[:, :2], key=jax.random.key(0))
    assert np.isfinite(trained.epoch_losses).all()
    # a module itself keeps its plugin's weights, whatever the run's key; a bare one is wrapped
    bare = as_layer(Net(nnx.Rngs(3)))
    assert isinstance(bare, Flax)
    assert leaves_equal(bare.init(jax.random.key(0), (5,), {}), bare.init(jax.random.key(1), (5,), {}))
    assert leaves_equal(bare.init(jax.random.key(0), (5,), {}), nnx.to_pure_dict(nnx.state(Net(nnx.Rngs(3)), nnx.Param)))
