"""A run's three fixtures: checked against the problem's declared types, and the
validation fixture carved from the training one where the problem provides none."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sail_types import Dataset, Fixture, Forecast, Sequence, Task, TimeSeries

from ..data.validation import carve_validation
from ..discovery import Descriptor
from ..planner import Run
from .checks import check_fixture, check_meta


class Fixtures(NamedTuple):
    """Train (what is trained on), validation and test fixtures of one run."""

    train: Fixture[Any, Any]
    validation: Fixture[Any, Any]
    test: Fixture[Any, Any]
    carved: bool  # the validation fixture was carved from the problem's training fixture


def time_ordered(problem: Descriptor, task: Task) -> bool:
    """Whether a problem's samples are in time order: its inputs are ``TimeSeries`` or
    ``Sequence``, or its task refines ``Forecast``; a validation carve then takes the last
    samples rather than random ones."""
    return isinstance(problem.input, (TimeSeries, Sequence)) or task.accepts(Forecast)


def run_fixtures(problem: Descriptor, task: Task, data: Dataset[Any, Any], run: Run) -> Fixtures:
    """Check every fixture ``data`` provides against ``problem``'s declared input and output
    types (their dims are the problem's hyperparameters at this run) and its metadata against
    its length, then carve the validation fixture where there is none (``carve_validation``:
    seeded with ``run.split``; stratified for ``argmax`` tasks; chronological for
    time-ordered data; the metadata carved with the same rows).

    Raises:
        DeclaredTypeError: a fixture does not match the declared types, or a metadata array
            does not have one value per sample.
    """
    assert problem.input is not None and problem.output is not None
    provided = {"train": data.train, "validation": data.validation, "test": data.test}
    # a problem's dims are named by its own integer hyperparameters, not the model's dims
    dims = {k: v for k, v in run.hyper.get("problem", {}).items() if isinstance(v, int) and not isinstance(v, bool)}
    for split, fixture in provided.items():
        if fixture is not None:
            check_fixture(f"problem {problem.name}", problem.input, problem.output, split, fixture.x, fixture.y, dims,
                          classes=task.prediction == "argmax")
            check_meta(f"problem {problem.name}", split, len(fixture.x), fixture.meta)
    if data.validation is not None:
        return Fixtures(data.train, data.validation, data.test, carved=False)
    stratify = task.prediction == "argmax" and np.ndim(data.train.y) == 1  # one class per sample
    train, validation = carve_validation(data.train, seed=run.split, stratify=stratify, chronological=time_ordered(problem, task))
    return Fixtures(train, validation, data.test, carved=True)
