"""Each compiled layer against an independent NumPy implementation (loops, textbook formulas)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from saibench_core.compile import compile_model
from saibench_core.errors import InvalidSignature
from sail_types import GRU, LSTM, AvgPool, Conv, Flatten, LayerNorm, Linear, Map, MaxPool, Pipeline, Residual, Sum

RNG = np.random.default_rng(0)


def run(layer: Any, x: np.ndarray, dims: dict[str, int] | None = None) -> tuple[Any, np.ndarray, tuple[int, ...]]:
    model = compile_model(layer, dims or {})
    params, shape = model.init(jax.random.key(0), x.shape[1:])
    out = np.asarray(jax.jit(model.apply)(params, x))
    assert out.shape[1:] == shape
    return jax.tree_util.tree_map(np.asarray, params), out, shape


def np_conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    n, h, wd, _ = x.shape
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((n, h + 2 * pad - k + 1, wd + 2 * pad - k + 1, w.shape[-1]))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = np.einsum("nhwc,hwco->no", xp[:, i:i + k, j:j + k], w)
    return out + b


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv2d(padding: str) -> None:
    x = RNG.normal(size=(3, 6, 5, 2)).astype(np.float32)
    params, out, _ = run(Conv(4, "k", padding=padding), x, {"k": 3})
    np.testing.assert_allclose(out, np_conv2d(x, params["w"], params["b"], 1 if padding == "SAME" else 0), rtol=1e-4, atol=1e-5)


def test_conv1d() -> None:
    x = RNG.normal(size=(2, 7, 3)).astype(np.float32)
    params, out, shape = run(Conv(5, 3, padding="VALID"), x)
    ref = np.stack([np.einsum("nwc,wco->no", x[:, i:i + 3], params["w"]) for i in range(5)], axis=1) + params["b"]
    assert shape == (5, 5)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_pools_and_flatten() -> None:
    x = RNG.normal(size=(2, 4, 6, 3)).astype(np.float32)
    _, mx, _ = run(MaxPool(2), x)
    _, av, _ = run(AvgPool(2), x)
    blocks = x.reshape(2, 2, 2, 3, 2, 3)
    np.testing.assert_allclose(mx, blocks.max(axis=(2, 4)), rtol=1e-6)
    np.testing.assert_allclose(av, blocks.mean(axis=(2, 4)), rtol=1e-5)
    _, flat, shape = run(Flatten(), x)
    assert shape == (72,) and np.array_equal(flat, x.reshape(2, -1))


def test_layer_norm_and_residual() -> None:
    x = RNG.normal(3.0, 2.0, size=(4, 8)).astype(np.float32)
    _, out, _ = run(LayerNorm(), x)
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    params, res, _ = run(Residual(Linear(8)), x)
    np.testing.assert_allclose(res, x + x @ params["w"] + params["b"], rtol=1e-4, atol=1e-4)
    with pytest.raises(InvalidSignature, match="keep its input shape"):
        run(Residual(Linear(3)), x)


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def test_lstm_against_numpy_loop() -> None:
    x = RNG.normal(size=(3, 5, 4)).astype(np.float32)
    params, out, shape = run(LSTM("h"), x, {"h": 6})
    h = c = np.zeros((3, 6))
    for t in range(5):
        i, f, g, o = np.split(x[:, t] @ params["wx"] + h @ params["wh"] + params["b"], 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
    assert shape == (6,)
    np.testing.assert_allclose(out, h, rtol=1e-4, atol=1e-5)


def test_gru_against_numpy_loop_with_sequences() -> None:
    x = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    params, out, shape = run(GRU(5, sequences=True), x)
    h = np.zeros((2, 5))
    steps = []
    for t in range(4):
        xr, xz, xn = np.split(x[:, t] @ params["wx"] + params["b"], 3, axis=-1)
        hr, hz, hn = np.split(h @ params["wh"], 3, axis=-1)
        r, z = sigmoid(xr + hr), sigmoid(xz + hz)
        h = (1 - z) * np.tanh(xn + r * hn) + z * h
        steps.append(h)
    assert shape == (4, 5)
    np.testing.assert_allclose(out, np.stack(steps, axis=1), rtol=1e-4, atol=1e-5)


def test_map_sum_is_permutation_invariant() -> None:
    x = RNG.normal(size=(3, 6, 4)).astype(np.float32)
    model = Pipeline(Map(Pipeline(Linear(8), LayerNorm(), Linear(1))), Sum())
    _, out, shape = run(model, x)
    _, shuffled, _ = run(model, x[:, RNG.permutation(6)])
    assert shape == (1,)
    np.testing.assert_allclose(out, shuffled, rtol=1e-4, atol=1e-5)


def test_planner_parameter_count_matches_the_compiled_model() -> None:
    from saibench_core.planner.memory import parameters

    layer = Pipeline(Conv(8, 3), LayerNorm(), MaxPool(2), Flatten(), Linear(6), Residual(Linear(6)))
    seq = Pipeline(LSTM(7, sequences=True), GRU(5))
    for net, shape in ((layer, (8, 8, 2)), (seq, (4, 3))):
        params, _, out_shape = run(net, RNG.normal(size=(1, *shape)).astype(np.float32))
        counted = parameters(net, shape, {})
        assert counted == (sum(p.size for p in jax.tree_util.tree_leaves(params)), out_shape)
