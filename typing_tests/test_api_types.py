"""The Python API's types as a user's type checker sees them (mypy --strict; never run).

Each public function's return type is pinned with ``assert_type``: a change that loosens
one (to ``Any``, to a wider union) fails ``tests/test_typing.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import assert_type

import pandas as pd

import saibench_core as sb


def plans() -> None:
    plan = sb.plan()
    assert_type(plan, sb.Plan)
    assert_type(sb.plan(problem="wine", model=["linear", "mlp*"], max_runs=3, repeat=2, vary="seed"), sb.Plan)
    assert_type(len(plan), int)
    assert_type(plan.count(), int)
    assert_type(plan.runs, tuple[sb.Run, ...])
    assert_type(plan.stream(), Iterator[sb.Run])
    for run in plan:
        assert_type(run, sb.Run)
    assert_type(plan.left_out(), Iterator[sb.LeftOut])
    assert_type(plan.explain("digits", "cnn"), list[sb.Reason])
    assert_type(sb.explain(problem="digits"), list[sb.Explanation])


def runs(plan: sb.Plan, chosen: Sequence[sb.Run]) -> None:
    def started(runs: Sequence[sb.Run]) -> None: ...

    def done(run: sb.Run, outcome: sb.Outcome | None) -> None: ...

    results = sb.run(plan, db=Path("r.sqlite"), jobs=2, timeout=60.0, on_start=started, on_done=done)
    assert_type(results, sb.Results)
    assert_type(sb.run(chosen, db="r.sqlite"), sb.Results)
    assert_type(results.counts, Mapping[str, int])
    assert_type(results.records, tuple[sb.Record, ...])
    assert_type(results.leaderboards(), list[sb.Leaderboard])
    assert_type(results.to_dataframe(), pd.DataFrame)


def ranks() -> None:
    boards = sb.rank(db="r.sqlite", ranking="by_*", problem=["wine"], tuned=True)
    assert_type(boards, list[sb.Leaderboard])
    assert_type(boards[0].entries, tuple[sb.Entry, ...])
    assert_type(sb.results_frame(status="ok"), pd.DataFrame)
    assert_type(sb.export("runs.csv", format="csv"), int)


def errors(exc: sb.InvalidInput) -> None:
    assert_type(exc.parameter, str)
    assert_type(exc.naming("--jobs"), str)
