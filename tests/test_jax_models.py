"""Any JAX model under a SAIL signature: a pure ``(init, apply)`` pair and an Equinox module
(optional extra) are planned, sized by ``jax.eval_shape`` and trained by the same loop."""

from __future__ import annotations

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
from sail_types import JaxModel, Pipeline, Softmax, Training

from . import fake_plugin

PLUGIN = '''
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray

from sail_types import (Dataset, Equinox, Input, JaxModel, Layer, Params, Regress, Scalar, Shape, Tensor, Test, Train,
                        hookimpl, model, problem)


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


@hookimpl
def saibench_modules():
    return [jax_line, pair, eqx_mlp, eqx_linear]
'''


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


SIZES = {"pair": 4, "eqx_mlp": 3 * 16 + 16 + 16 + 1, "eqx_linear": 4}
SIZE_IN_A_FRESH_PLANNER = """
import json
from saibench_core.discovery import load_catalog
from saibench_core.planner import Planner
catalog = load_catalog()
planner = Planner(catalog)  # contained: the models are built and sized in its forked child
runs = {r.model: r for r in planner.runs() if r.problem == "jax_line" and r.model in ("pair", "eqx_mlp", "eqx_linear")}
print(json.dumps({name: planner.parameters(catalog.get("model", name), r.dims, r.hyper["model"], r.fills)
                  for name, r in runs.items()}))
"""


def test_the_planner_sizes_jax_models_in_its_child(plugin_env: dict[str, str]) -> None:
    # a fresh process, as `saibench solve` is: a forked child cannot run JAX computations once
    # the parent's JAX backend is up (as it is in this test process), only trace them
    out = subprocess.run([sys.executable, "-c", SIZE_IN_A_FRESH_PLANNER], env=plugin_env, capture_output=True,
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
