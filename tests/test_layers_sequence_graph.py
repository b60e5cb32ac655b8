"""Attention, the Transformer block, position codes and message passing against independent
NumPy implementations (loops over heads and elements, textbook formulas), under jit."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest

from saibench_core.compile import compile_model
from saibench_core.errors import InvalidSignature
from sail_types import (
    Atoms,
    Concat,
    MessagePassing,
    Pipeline,
    PositionalEncoding,
    SelfAttention,
    Slice,
    TransformerEncoder,
)

RNG = np.random.default_rng(1)


def run(layer: Any, x: np.ndarray, dims: dict[str, int] | None = None) -> tuple[Any, np.ndarray, tuple[int, ...]]:
    model = compile_model(layer, dims or {})
    params, shape = model.init(jax.random.key(0), x.shape[1:])
    out = np.asarray(jax.jit(model.apply)(params, x))
    assert out.shape[1:] == shape and np.all(np.isfinite(out))
    return jax.tree_util.tree_map(lambda p: np.asarray(p, np.float64), params), out, shape


def np_softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_attention(p: dict[str, Any], x: np.ndarray, heads: int, causal: bool = False) -> np.ndarray:
    """Multi-head self-attention, one sample and one head at a time."""
    n, t, d = x.shape
    f = d // heads
    out = np.zeros((n, t, d))
    for s in range(n):
        q, k, v = (x[s] @ p[m]["w"] + p[m]["b"] for m in "qkv")
        joined = []
        for h in range(heads):
            cols = slice(h * f, (h + 1) * f)
            scores = q[:, cols] @ k[:, cols].T / np.sqrt(f)
            if causal:
                scores = np.where(np.tril(np.ones((t, t))) > 0, scores, -np.inf)
            joined.append(np_softmax(scores) @ v[:, cols])
        out[s] = np.concatenate(joined, axis=-1) @ p["o"]["w"] + p["o"]["b"]
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention(causal: bool) -> None:
    x = RNG.normal(size=(3, 5, 8)).astype(np.float32)
    params, out, shape = run(SelfAttention("h", causal=causal), x, {"h": 2})
    assert shape == (5, 8)
    np.testing.assert_allclose(out, np_attention(params, x.astype(np.float64), 2, causal), rtol=1e-4, atol=1e-5)
    if causal:  # step 0 sees itself only: changing later steps leaves it alone
        later = x.copy()
        later[:, 1:] += 1.0
        _, moved, _ = run(SelfAttention(2, causal=True), later)
        np.testing.assert_allclose(moved[:, 0], out[:, 0], rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidSignature, match="do not divide into 3 heads"):
        run(SelfAttention(3), x)


def np_layer_norm(v: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    return (v - v.mean(-1, keepdims=True)) / np.sqrt(v.var(-1, keepdims=True) + 1e-5) * p["scale"] + p["shift"]


def np_gelu(v: np.ndarray) -> np.ndarray:
    return 0.5 * v * (1 + np.tanh(np.sqrt(2 / np.pi) * (v + 0.044715 * v**3)))


def test_transformer_encoder_block() -> None:
    x = RNG.normal(size=(2, 6, 8)).astype(np.float32)
    params, out, shape = run(Pipeline(PositionalEncoding(), TransformerEncoder(heads=4, hidden="m")), x, {"m": 16})
    (attend, mlp), = params[1:]
    xs = x.astype(np.float64)
    t, d = xs.shape[1:]
    pos = np.array([[np.sin(p / 10000 ** (2 * (i // 2) / d)) if i % 2 == 0 else np.cos(p / 10000 ** (2 * (i // 2) / d))
                     for i in range(d)] for p in range(t)])
    h = xs + pos
    h = h + np_attention(attend[1], np_layer_norm(h, attend[0]), 4)
    h = h + np_gelu(np_layer_norm(h, mlp[0]) @ mlp[1]["w"] + mlp[1]["b"]) @ mlp[3]["w"] + mlp[3]["b"]
    assert shape == (6, 8)
    np.testing.assert_allclose(out, h, rtol=1e-4, atol=1e-4)


def test_transformer_dropout_only_while_training() -> None:
    x = RNG.normal(size=(2, 4, 8)).astype(np.float32)
    model = compile_model(TransformerEncoder(2, 16, dropout=0.5), {})
    params, _ = model.init(jax.random.key(0), (4, 8))
    plain = compile_model(TransformerEncoder(2, 16), {})
    inference = np.asarray(jax.jit(model.apply)(params, x))
    np.testing.assert_array_equal(inference, np.asarray(jax.jit(plain.apply)(params, x)))
    trained = np.asarray(jax.jit(lambda p, v, k: model.apply(p, v, key=k))(params, x, jax.random.key(3)))
    assert not np.allclose(trained, inference)


def np_message_passing(p: dict[str, Any], x: np.ndarray, cutoff: float | None, cols: tuple[int, int]) -> np.ndarray:
    """Element by element: its own term plus a message from each neighbour."""
    out = np.zeros((*x.shape[:2], p["b"].shape[0]))
    for s in range(x.shape[0]):
        for i in range(x.shape[1]):
            out[s, i] = x[s, i] @ p["self"] + p["b"]
            for j in range(x.shape[1]):
                near = cutoff is None or np.linalg.norm(x[s, i, cols[0]:cols[1]] - x[s, j, cols[0]:cols[1]]) < cutoff
                if j != i and near:
                    out[s, i] += x[s, j] @ p["message"]
    return out


@pytest.mark.parametrize("cutoff", [None, 1.0])
def test_message_passing_over_atoms(cutoff: float | None) -> None:
    x = np.concatenate([RNG.integers(0, 4, size=(3, 7, 1)), RNG.normal(0, 0.7, size=(3, 7, 3))], axis=-1).astype(np.float32)
    layer = MessagePassing("f", cutoff=cutoff)
    params, out, shape = run(layer, x, {"f": 5})
    assert shape == (7, 5) and Atoms(7).shape({}) == x.shape[1:]
    np.testing.assert_allclose(out, np_message_passing(params, x.astype(np.float64), cutoff, (1, 4)), rtol=1e-4, atol=1e-4)
    order = RNG.permutation(7)
    _, permuted, _ = run(layer, x[:, order], {"f": 5})
    np.testing.assert_allclose(permuted, out[:, order], rtol=1e-4, atol=1e-5)  # equivariant


def test_message_passing_stacks_over_geometry() -> None:
    x = np.concatenate([RNG.integers(0, 4, size=(2, 6, 1)), RNG.normal(0, 0.7, size=(2, 6, 3))], axis=-1).astype(np.float32)
    net = Pipeline(Concat(Slice(1, 4, axis=-1), MessagePassing(8, cutoff=1.2)), MessagePassing(4, cutoff=1.2, positions=(0, 3)))
    params, out, shape = run(net, x)
    first = np_message_passing(params[0][1], x.astype(np.float64), 1.2, (1, 4))
    ref = np_message_passing(params[1], np.concatenate([x[..., 1:4], first], axis=-1), 1.2, (0, 3))
    assert shape == (6, 4)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(InvalidSignature, match="positions"):
        run(MessagePassing(4, cutoff=1.0, positions=(2, 6)), x)
