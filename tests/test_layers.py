"""Each compiled layer against an independent NumPy implementation (loops, textbook formulas)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from saibench_core.compile import compile_model
from saibench_core.errors import InvalidSignature
from sail_types import (
    GRU,
    LSTM,
    AvgPool,
    Concat,
    Conv,
    ConvTranspose,
    Dropout,
    Flatten,
    GroupNorm,
    Identity,
    LayerNorm,
    Linear,
    Map,
    MaxPool,
    Pipeline,
    Residual,
    Slice,
    Sum,
    Upsample,
)

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


# -- layers a U-Net needs: up-sampling, skips by concatenation, a normalisation for conv nets


def np_conv_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """The scatter-add definition: input position i adds x[i] @ w[a] at output i * stride + a."""
    spatial, k = x.ndim - 2, w.shape[0]
    out = np.zeros((x.shape[0], *((s - 1) * stride + k for s in x.shape[1:-1]), w.shape[-1]))
    for i in np.ndindex(*x.shape[1:-1]):
        for a in np.ndindex(*(k,) * spatial):
            at = tuple(ii * stride + aa for ii, aa in zip(i, a))
            out[(slice(None), *at)] += x[(slice(None), *i)] @ w[a]
    return out + b


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (3, 1), (1, 3)])
def test_conv_transpose_2d_is_the_scatter_add(kernel: int, stride: int) -> None:
    x = RNG.normal(size=(2, 3, 4, 2)).astype(np.float32)
    params, out, shape = run(ConvTranspose(5, kernel, stride=stride, padding="VALID"), x)
    full = np_conv_transpose(x, params["w"], params["b"], stride)
    assert shape == full.shape[1:]
    np.testing.assert_allclose(out, full, rtol=1e-4, atol=1e-5)
    _, same, same_shape = run(ConvTranspose(5, kernel, stride=stride), x)  # same key: same parameters
    crop = max(kernel - stride, 0) // 2
    want = np.pad(full, ((0, 0), (0, max(stride - kernel, 0)), (0, max(stride - kernel, 0)), (0, 0)),
                  constant_values=0)  # a kernel narrower than the stride leaves zeros (plus bias) at the end
    want[:, full.shape[1]:] = params["b"]
    want[:, :, full.shape[2]:] = params["b"]
    assert same_shape == (3 * stride, 4 * stride, 5)
    np.testing.assert_allclose(same, want[:, crop:crop + 3 * stride, crop:crop + 4 * stride], rtol=1e-4, atol=1e-5)


def test_conv_transpose_1d() -> None:
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    params, out, shape = run(ConvTranspose(4, 3, stride=2, padding="VALID"), x)
    assert shape == (11, 4)
    np.testing.assert_allclose(out, np_conv_transpose(x, params["w"], params["b"], 2), rtol=1e-4, atol=1e-5)


def test_upsample_concat_identity() -> None:
    x = RNG.normal(size=(2, 3, 2, 4)).astype(np.float32)
    _, up, shape = run(Upsample(2), x)
    assert shape == (6, 4, 4)
    np.testing.assert_array_equal(up, np.kron(x, np.ones((1, 2, 2, 1), np.float32)))
    params, cat, shape = run(Concat(Identity(), Conv(3, 1)), x)
    assert shape == (3, 2, 7)
    np.testing.assert_array_equal(cat[..., :4], x)
    np.testing.assert_allclose(cat[..., 4:], x @ params[1]["w"][0, 0] + params[1]["b"], rtol=1e-4, atol=1e-5)
    with pytest.raises(InvalidSignature, match="all but the last axis must agree"):
        run(Concat(Identity(), MaxPool(2)), x)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(groups: int) -> None:
    x = RNG.normal(2.0, 3.0, size=(3, 5, 4, 8)).astype(np.float32)
    _, out, _ = run(GroupNorm("g"), x, {"g": groups})
    g = x.astype(np.float64).reshape(3, 5, 4, groups, 8 // groups)
    ref = ((g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(g.var(axis=(1, 2, 4), keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(InvalidSignature, match="do not divide into 3 groups"):
        run(GroupNorm(3), x)


# -- slicing and dropout ---------------------------------------------------------------


def test_slice_takes_a_step_or_channels() -> None:
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    for layer, ref in ((Slice(-1), x[:, -1]), (Slice(0, axis=-1), x[:, :, 0]), (Slice(1, 3, axis=-1), x[:, :, 1:3]),
                       (Slice(-2, None, axis=0), x[:, -2]), (Slice(2, 10), x[:, 2:])):
        _, out, shape = run(layer, x)
        assert shape == ref.shape[1:]
        np.testing.assert_array_equal(out, ref)
    with pytest.raises(InvalidSignature, match="out of range"):
        run(Slice(5), x)
    with pytest.raises(InvalidSignature, match="keeps nothing"):
        run(Slice(4, 2), x)


def test_dropout_is_random_in_training_only() -> None:
    x = RNG.normal(size=(64, 50)).astype(np.float32) + 3.0
    model = compile_model(Dropout(0.25), {})
    params, _ = model.init(jax.random.key(0), (50,))
    np.testing.assert_array_equal(np.asarray(jax.jit(model.apply)(params, x)), x)  # inference: the identity
    train = jax.jit(lambda p, v, k: model.apply(p, v, key=k))
    a, b = np.asarray(train(params, x, jax.random.key(1))), np.asarray(train(params, x, jax.random.key(2)))
    kept = a != 0
    assert 0.70 < kept.mean() < 0.80 and not np.array_equal(kept, b != 0)
    np.testing.assert_allclose(a[kept], x[kept] / 0.75, rtol=1e-6)
    with pytest.raises(ValueError):
        Dropout(1.0)
