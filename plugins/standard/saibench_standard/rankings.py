"""Rankings: community views over stored results (higher score ranks first; a Pareto
ranking groups them in fronts instead).

Each function scores one set of metric values; a leaderboard applies it to a configuration's
median metrics over its repetitions (so ``accuracy_per_time`` weighs the median training
time, not one lucky run's) and to each repetition for the [min, max] range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sail_types import Pareto, ranking

ACCURACY_TIME = Pareto(accuracy="max", train_time="min")


@ranking(metrics=("accuracy",))
def by_accuracy(values: Mapping[str, float]) -> float:
    """Test accuracy alone: the leaderboard of the classic benchmark papers."""
    return values["accuracy"]


@ranking(metrics=("accuracy", "train_time"))
def accuracy_per_time(values: Mapping[str, float]) -> float:
    """Accuracy minus 0.02 × log10(training seconds): a method ten times slower to
    train must be two points more accurate to rank equal."""
    return values["accuracy"] - 0.02 * math.log10(max(values["train_time"], 1e-3))


@ranking(metrics=("mae",))
def by_mae(values: Mapping[str, float]) -> float:
    """Lowest mean absolute error first (score = -MAE): the regression leaderboard."""
    return -values["mae"]


@ranking(order=ACCURACY_TIME)
def pareto_accuracy_time(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Pareto fronts of test accuracy (higher better) against training seconds (lower
    better): front 1 holds every method no other is both as accurate and as fast as, and
    better in one; no exchange rate between the two is assumed, unlike accuracy_per_time."""
    return ACCURACY_TIME.dominates(a, b)
