"""The validation fixture a run is followed and selected on, when a problem provides none.

A run's per-epoch curves, its time-to-accuracy and the choice among grid points must not
read the test fixture (that would select on test and report an optimistic score), so the
engine carves a validation fixture out of the training fixture and trains on the rest.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sail_types import Train, Validation

from ..errors import UsageError

VALIDATION_FRACTION = 0.2


def _stratified(y: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    picked = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        if len(members) < 2:  # a class seen once stays in training: the model must see it
            continue
        take = min(max(1, round(fraction * len(members))), len(members) - 1)
        picked.append(rng.permutation(members)[:take])
    return np.concatenate(picked) if picked else np.empty(0, dtype=np.intp)


def carve_validation(train: Train[Any, Any], *, seed: int, stratify: bool, chronological: bool,
                     fraction: float = VALIDATION_FRACTION) -> tuple[Train[Any, Any], Validation[Any, Any]]:
    """Split ``train`` into the part trained on and a validation fixture.

    20 % of the samples (``fraction``) go to validation, at least one:

    - *chronological* (time-ordered data: ``TimeSeries`` or ``Sequence`` inputs, or a task
      refining ``Forecast``): the last ``ceil(fraction * n)`` samples in the fixture's
      order, so that no future sample is trained on; takes precedence over stratifying;
    - *stratified* (``argmax`` tasks, i.e. classification): ``round(fraction * n_c)`` of
      each class ``c``, at least 1 and never all of its samples (a class with a single
      sample stays in training), chosen at random with ``seed``;
    - otherwise ``round(fraction * n)`` samples chosen at random with ``seed``.

    Both parts keep the fixture's order, and each takes the same rows of the fixture's
    per-sample metadata (``Fixture.meta``) as of ``x`` and ``y``.

    Args:
        train: the problem's training fixture (batch axis first).
        seed: seed of the random choice (the run's split).
        stratify: carve each class apart (targets are class indices).
        chronological: carve the last samples instead of random ones.
        fraction: share of the samples that go to validation, in (0, 1).

    Returns:
        ``(Train, Validation)``: the samples trained on, and the validation fixture.

    Raises:
        UsageError: the fixture has fewer than 2 samples, so there is nothing to carve.

    Example:
        >>> train = Train(np.arange(10.0)[:, None], np.arange(10.0))
        >>> rest, validation = carve_validation(train, seed=0, stratify=False, chronological=True)
        >>> validation.y.tolist(), len(rest)
        ([8.0, 9.0], 8)
    """
    x, y = np.asarray(train.x), np.asarray(train.y)
    n = len(x)
    if n < 2:
        raise UsageError(f"a training fixture of {n} sample(s) cannot give a validation fixture; "
                         "provide Dataset(..., validation=Validation(x, y)) or more training samples")
    picked = np.empty(0, dtype=np.intp)
    if chronological:
        picked = np.arange(n - min(max(1, math.ceil(fraction * n)), n - 1), n)
    elif stratify:
        picked = _stratified(y, fraction, np.random.default_rng(seed))
    if not len(picked):  # neither, or every class has a single sample: nothing to stratify
        picked = np.random.default_rng(seed).permutation(n)[: min(max(1, round(fraction * n)), n - 1)]
    held = np.zeros(n, dtype=bool)
    held[picked] = True
    meta = train.meta  # arrays already: Fixture converts them
    return (Train(x[~held], y[~held], meta={k: v[~held] for k, v in meta.items()}),
            Validation(x[held], y[held], meta={k: v[held] for k, v in meta.items()}))
