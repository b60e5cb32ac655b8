"""Pods: a failing or hanging run becomes a failed outcome with its reason; the caller goes on."""

from __future__ import annotations

from pathlib import Path

import attrs

from saibench_core.discovery import Catalog
from saibench_core.execute import run_isolated
from saibench_core.planner import Planner, Run


def linear_on_wine(catalog: Catalog) -> Run:
    return next(r for r in Planner(catalog).runs() if r.problem == "wine" and r.model == "linear")


def test_exception_in_pod_is_a_failed_outcome(catalog: Catalog) -> None:
    outcome = run_isolated(attrs.evolve(linear_on_wine(catalog), hardware="gpu"), timeout=120)
    assert outcome.status == "failed"
    assert "hardware 'gpu' is not available" in outcome.reason and outcome.metrics == {}


def test_hung_pod_is_killed_at_its_timeout(catalog: Catalog) -> None:
    outcome = run_isolated(linear_on_wine(catalog), timeout=0.2)
    assert outcome.status == "failed" and outcome.reason.startswith("timed out after 0.2 s")


def test_failing_converter_falls_back_to_the_next_chain() -> None:
    import numpy as np
    import pytest

    from saibench_core.discovery import Descriptor
    from saibench_core.execute.pod import ConversionError, convert, per_element
    from saibench_core.planner import Fill
    from sail_types import ModuleSpec

    def broken(x: object) -> object:
        raise MemoryError("out of scratch space")

    def conv(name: str, fn: object) -> Descriptor:
        return Descriptor(name, "converter", "t", "0", ModuleSpec("converter"), fn=fn)  # type: ignore[arg-type]

    catalog = Catalog((conv("fast", broken), conv("double", lambda x: x * 2), conv("negate", lambda x: -x)))
    x = np.arange(6.0).reshape(2, 3)
    (out,), used = convert(catalog, [("fast",), ("double", "negate")], (x,))
    assert used == ("double", "negate") and np.array_equal(out, -2 * x)
    with pytest.raises(ConversionError, match="fast: MemoryError: out of scratch space"):
        convert(catalog, [("fast",)], (x,))
    # a slot's chain runs on every element of every set: (N, n, f) -> (N*n, f) -> back
    sets = np.arange(24.0).reshape(2, 3, 4)
    fill = Fill("phi", "m", ("double",), 1.0, {}, {})
    assert np.array_equal(per_element(catalog, [fill], sets), 2 * sets)


WRONG_WIDTH = '''
from typing import Annotated
from sail_types import Classify, Input, Label, Layer, Linear, Pipeline, Tensor, hookimpl, model


@model(task=Classify)
def one_score(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    return Pipeline(Linear(1))  # one score where Label("k") needs k of them


@hookimpl
def saibench_modules():
    return [one_score]
'''


def test_a_network_whose_outputs_contradict_its_signature_fails_before_training(tmp_path: Path) -> None:
    import pytest

    from saibench_core.execute.checks import DeclaredTypeError
    from saibench_core.execute.pod import execute

    from . import fake_plugin

    with fake_plugin.installed_catalog(tmp_path, "wrongwidth", WRONG_WIDTH) as catalog:
        run = next(r for r in Planner(catalog).runs() if r.problem == "wine" and r.model == "one_score")
        with pytest.raises(DeclaredTypeError, match=r"network outputs shape \(1,\) per sample, but its signature declares "
                                                     r"Label\('k'\), shape \(3,\); make its last layer"):
            execute(run, catalog)
