"""Science architectures written in SAIL and trained a few steps: a U-Net on a tiny
segmentation target, a Transformer encoder on a sequence task."""

from __future__ import annotations

import jax
import numpy as np
import optax

from saibench_core.compile import compile_model, fit, predict
from saibench_core.planner.memory import parameters
from sail_types import (
    Concat,
    Conv,
    ConvTranspose,
    GroupNorm,
    Identity,
    Layer,
    Linear,
    MaxPool,
    Pipeline,
    PositionalEncoding,
    Relu,
    Slice,
    Softmax,
    Training,
    TransformerEncoder,
)


def block(width: int) -> Layer:
    return Pipeline(Conv(width, 3), GroupNorm(2), Relu(), Conv(width, 3), GroupNorm(2), Relu())


def unet(width: int, depth: int, classes: int) -> Layer:
    """Ronneberger et al. (2015): at each level a conv block whose output is kept (the skip)
    beside the down-sampled, deeper U-Net up-sampled back, then joined by a conv block."""

    def level(w: int, d: int) -> Layer:
        if d == 0:
            return block(w)
        deeper = Pipeline(MaxPool(2), level(2 * w, d - 1), ConvTranspose(w, 2, stride=2))
        return Pipeline(block(w), Concat(Identity(), deeper), block(w))

    return Pipeline(level(width, depth), Conv(classes, 1), Softmax())


def squares(n: int, seed: int, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images with one bright square; the target marks its pixels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, size=(n, size, size, 1)).astype(np.float32)
    y = np.zeros((n, size, size), np.int32)
    for i in range(n):
        s = rng.integers(2, size // 2 + 1)
        r, c = rng.integers(0, size - s + 1, size=2)
        x[i, r:r + s, c:c + s] += 1.0
        y[i, r:r + s, c:c + s] = 1
    return x, y


def test_a_unet_learns_a_segmentation() -> None:
    net = unet(width=4, depth=2, classes=2)  # 8x8 -> 4x4 -> 2x2 and back
    model = compile_model(net, {})
    count, out_shape = parameters(net, (8, 8, 1), {}) or (0, ())
    params, shape = model.init(jax.random.key(0), (8, 8, 1))
    assert shape == out_shape == (8, 8, 2) and model.outputs_probabilities
    assert count == sum(p.size for p in jax.tree_util.tree_leaves(params))
    x, y = squares(64, 0)
    trained = fit(model, Training(optax.adam(1e-2), epochs=12, batch_size=16), "cross_entropy", x, y, key=jax.random.key(0))
    assert trained.epoch_losses[-1] < 0.5 * trained.epoch_losses[0]
    xt, yt = squares(32, 1)
    probs, _ = predict(model, trained.params, xt, passes=0)
    predicted = probs.argmax(-1)
    iou = np.sum((predicted == 1) & (yt == 1)) / np.sum((predicted == 1) | (yt == 1))
    assert iou > 0.75, iou  # all-background scores 0


def test_a_transformer_encoder_learns_which_step_was_marked() -> None:
    """Each sequence marks one step; the model must say which - an order-aware task."""
    rng = np.random.default_rng(0)
    n, t = 256, 8
    y = rng.integers(0, t, size=n).astype(np.int32)
    x = rng.normal(0.0, 0.1, size=(n, t, 8)).astype(np.float32)
    x[np.arange(n), y, 0] += 2.0
    net = Pipeline(Linear(16), PositionalEncoding(), TransformerEncoder(heads=2, hidden=32, dropout=0.1),
                   TransformerEncoder(heads=2, hidden=32), Slice(0), Linear("k"), Softmax())
    model = compile_model(net, {"k": t})
    trained = fit(model, Training(optax.adam(3e-3), epochs=40, batch_size=32), "cross_entropy", x, y, key=jax.random.key(0))
    assert np.all(np.isfinite(trained.epoch_losses)) and trained.epoch_losses[-1] < 0.5 * trained.epoch_losses[0]
    probs, _ = predict(model, trained.params, x, passes=0)
    assert np.mean(probs.argmax(-1) == y) > 0.9
