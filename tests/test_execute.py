"""Pods: a failing or hanging run becomes a failed outcome with its reason; the caller goes on."""

from __future__ import annotations

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
