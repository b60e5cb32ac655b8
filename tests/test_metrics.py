"""Event-stream metrics on hand-made streams, and the epoch snapshots they rely on."""

from __future__ import annotations

import math

import jax
import numpy as np
import optax
import pytest
from saibench_standard.metrics import latency_p50, latency_p99, time_to_95_accuracy

from saibench_core.compile import compile_model, fit, predict
from saibench_core.compile.train import epoch_scores
from saibench_core.discovery import Catalog
from saibench_core.execute.evaluate import hard_failures
from sail_types import Classify, Evaluation, Linear, Pipeline, Relu, Softmax, Training


def evaluation(*events: dict[str, object]) -> Evaluation:
    return Evaluation(np.zeros(1), np.zeros(1), np.zeros((1, 1)), 1.0, 0.1, 0.01, 1, 1, 3, events=events)


def test_time_to_accuracy_follows_epochs_in_order() -> None:
    epochs = [{"kind": "epoch", "epoch": i + 1, "seconds": 0.5 * (i + 1), "validation_accuracy": acc}
              for i, acc in enumerate([0.80, 0.96, 0.94, 0.97])]
    assert time_to_95_accuracy(evaluation(*epochs)) == 1.0
    assert math.isinf(time_to_95_accuracy(evaluation(*epochs[:1])))


def test_latency_percentiles_are_numpy_percentiles_in_ms() -> None:
    seconds = list(np.random.default_rng(0).exponential(0.001, size=500))
    ev = evaluation({"kind": "latency", "seconds": seconds})
    assert latency_p50(ev) == pytest.approx(1000 * np.percentile(seconds, 50))
    assert latency_p99(ev) == pytest.approx(1000 * np.percentile(seconds, 99))


def test_hard_fail_threshold_respects_the_goal(catalog: Catalog) -> None:
    assert hard_failures(catalog, {"sanity_accuracy": 0.49, "accuracy": 0.1}) == [
        "sanity_accuracy = 0.49 is below its hard-fail threshold 0.5"]
    assert hard_failures(catalog, {"sanity_accuracy": 0.51}) == []


def test_epoch_snapshots_agree_with_the_final_parameters() -> None:
    from saibench_vision import digits

    data = digits()
    x, xt = (d.x.reshape(len(d.x), -1) for d in (data.train, data.test))
    model = compile_model(Pipeline(Linear(32), Relu(), Linear(10), Softmax()), {})
    training = Training(optax.adam(3e-3), epochs=5, batch_size=64)
    trained = fit(model, training, Classify, x, data.train.y, key=jax.random.key(0), snapshots=True)
    losses, accuracies = epoch_scores(model, Classify, trained.snapshots, xt, data.test.y)
    probs, _ = predict(model, trained.params, xt)
    assert losses.shape == accuracies.shape == (5,)
    assert accuracies[-1] == pytest.approx(np.mean(probs.argmax(-1) == data.test.y))
    assert accuracies[-1] > accuracies[0]


def test_json_keeps_not_measured_and_never_reached_apart() -> None:
    import json

    from saibench_core.results.export import json_safe

    out = json.dumps(json_safe({"m": [float("nan"), float("inf"), 1.5], "n": (2, "x")}), allow_nan=False)
    assert json.loads(out) == {"m": [None, "Infinity", 1.5], "n": [2, "x"]}  # NaN: not measured; inf: never reached
