"""The JAX-compiled model against a hand-written NumPy forward pass, under jit."""

from __future__ import annotations

import jax
import numpy as np
import optax

from saibench_core.compile import compile_model, fit, predict
from sail_types import Linear, Pipeline, Relu, Softmax, Tanh, Training


def numpy_forward(params: tuple[dict[str, np.ndarray], ...], x: np.ndarray) -> np.ndarray:
    h = np.maximum(x @ np.asarray(params[0]["w"], np.float64) + np.asarray(params[0]["b"], np.float64), 0.0)
    h = np.tanh(h @ np.asarray(params[2]["w"], np.float64) + np.asarray(params[2]["b"], np.float64))
    logits = h @ np.asarray(params[4]["w"], np.float64) + np.asarray(params[4]["b"], np.float64)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_compiled_mlp_matches_numpy_reference() -> None:
    model = compile_model(Pipeline(Linear(16), Relu(), Linear("h"), Tanh(), Linear("k"), Softmax()), {"h": 8, "k": 5})
    params, out_shape = model.init(jax.random.key(1), (12,))
    assert out_shape == (5,) and model.outputs_probabilities
    x = np.random.default_rng(0).normal(size=(32, 12)).astype(np.float32)
    probs, seconds = predict(model, params, x)
    assert probs.shape == (32, 5) and probs.dtype == np.float32 and seconds.shape == (7,) and np.all(seconds > 0)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs, numpy_forward(params, x.astype(np.float64)), rtol=1e-4, atol=1e-6)


def test_training_fits_a_separable_problem() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    model = compile_model(Pipeline(Linear("k"), Softmax()), {"k": 2})
    trained = fit(model, Training(optax.adam(0.05), epochs=30, batch_size=32), "cross_entropy", x, y, key=jax.random.key(0))
    assert trained.epoch_losses.shape == (30,)
    assert trained.epoch_losses[-1] < 0.5 * trained.epoch_losses[0]
    probs, _ = predict(model, trained.params, x)
    assert np.mean(probs.argmax(-1) == y) > 0.95


def test_bfloat16_mixed_precision_trains_with_float32_parameters() -> None:
    from saibench_vision import digits

    from sail_types import Linear, Pipeline, Relu, Softmax

    data = digits()
    x = data.train.x.reshape(len(data.train.x), -1)
    xt = data.test.x.reshape(len(data.test.x), -1)
    layer = Pipeline(Linear(64), Relu(), Linear(10), Softmax())
    full, low = compile_model(layer, {}), compile_model(layer, {}, precision="bfloat16")
    params, _ = full.init(jax.random.key(0), (64,))
    a, b = np.asarray(jax.jit(full.apply)(params, xt)), np.asarray(jax.jit(low.apply)(params, xt))
    assert b.dtype == np.float32 and not np.array_equal(a, b)
    np.testing.assert_allclose(a, b, rtol=0.05, atol=0.05)  # bfloat16 keeps ~3 significant digits
    training = Training(optax.adam(3e-3), epochs=20, batch_size=64)
    trained = fit(low, training, "cross_entropy", x, data.train.y, key=jax.random.key(0))
    assert all(p.dtype == np.float32 for p in jax.tree_util.tree_leaves(trained.params))
    probs, _ = predict(low, trained.params, xt)
    assert np.mean(probs.argmax(-1) == data.test.y) > 0.93


def test_each_named_loss_and_a_callable_one_match_numpy() -> None:
    import jax.numpy as jnp
    import pytest

    from saibench_core.compile.train import loss_function
    from sail_types import Classify, InvalidSignature, Regress, Task

    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=16).astype(np.float32)
    labels = rng.integers(0, 4, size=16).astype(np.int32)
    regressor, classifier = compile_model(Pipeline(Linear(1)), {}), compile_model(Pipeline(Linear(4), Softmax()), {})
    params, _ = regressor.init(jax.random.key(0), (3,))
    out = (x.astype(np.float64) @ np.asarray(params[0]["w"], np.float64)).ravel() + float(params[0]["b"][0])
    absolute = Task("Robust", loss="absolute_error", refines=Regress)
    cubic = Task("Cubic", loss=lambda o, t: jnp.abs(o - t) ** 3, refines=Regress)
    for task, expected in ((Regress, np.mean((out - y) ** 2)), (absolute, np.mean(np.abs(out - y))),
                           (cubic, np.mean(np.abs(out - y) ** 3))):
        assert float(jax.jit(loss_function(regressor, task))(params, x, y)) == pytest.approx(expected, rel=1e-5)
    cparams, _ = classifier.init(jax.random.key(1), (3,))
    logits = x.astype(np.float64) @ np.asarray(cparams[0]["w"], np.float64) + np.asarray(cparams[0]["b"], np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean(log_probs[np.arange(16), labels])
    assert float(jax.jit(loss_function(classifier, Classify))(cparams, x, labels)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(InvalidSignature, match="unknown loss"):
        loss_function(regressor, "huber")


def test_a_classifiers_scores_are_probabilities_with_or_without_a_trailing_softmax() -> None:
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    ends, bare = (compile_model(net, {"k": 3}, logits=True) for net in (Pipeline(Linear("k"), Softmax()), Pipeline(Linear("k"))))
    assert ends.outputs_probabilities and bare.outputs_probabilities
    assert not compile_model(Pipeline(Linear("k")), {"k": 3}).outputs_probabilities  # a regression's outputs stay as they are
    params, _ = bare.init(jax.random.key(0), (4,))
    scores, _ = predict(bare, params, x, passes=0)
    logits = np.asarray(bare.apply(params, x))
    np.testing.assert_allclose(scores, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), rtol=1e-5)
