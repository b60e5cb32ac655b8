"""Partial-order rankings: the SAIL form, non-dominated sorting against a brute-force
reference, fronts on leaderboards (reference rows uncounted), tables and JSON."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from saibench_chemistry import metrics as chemistry_metrics
from saibench_chemistry import rankings as chemistry_rankings
from saibench_standard import metrics as standard_metrics
from saibench_standard import rankings

from saibench_core.discovery import Descriptor
from saibench_core.planner import Run
from saibench_core.rank import leaderboard, tables
from saibench_core.rank.leaderboard import UNTUNED
from saibench_core.rank.pareto import dominance, fronts, joining
from saibench_core.rank.values import RankingFailed
from saibench_core.results import Record
from sail_types import InvalidValue, Pareto, ranking

NAN = float("nan")


def described(fn: Any, plugin: str = "standard") -> Descriptor:
    return Descriptor(fn.__name__, "ranking", plugin, "0", fn.__sail__, doc=fn.__doc__ or "", fn=fn)


PARETO = described(rankings.pareto_accuracy_time)


def run(model: str, *, seed: int = 0, problem: str = "digits") -> Run:
    return Run(problem, model, "adam", "jax-float32", "cpu", (), 0.0, {}, {"model": {}, "trainer": {}},
               ("accuracy", "train_time"), ("pareto_accuracy_time",), seed=seed, split=seed, dataset_checksum=f"s{seed}")


def record(r: Run, metrics: Mapping[str, float] | None = None, *, failed: str = "", **details: Any) -> Record:
    return Record(f"{r.model}-{r.seed}", r, "failed" if failed else "ok", failed, dict(metrics or {}), details, 1.0)


# --- the SAIL form ---------------------------------------------------------------------------


def test_a_pareto_ranking_declares_its_metrics_and_goals() -> None:
    spec = rankings.pareto_accuracy_time.__sail__
    assert (spec.order, spec.metrics) == ("partial", ("accuracy", "train_time"))
    assert spec.pareto == Pareto(accuracy="max", train_time="min")
    assert rankings.by_accuracy.__sail__.order == "total" and rankings.by_accuracy.__sail__.pareto is None


def test_the_bundled_pareto_rankings_read_metrics_their_plugins_produce() -> None:
    produced = {f.__name__ for f in vars(standard_metrics).values() if hasattr(f, "__sail__")}
    assert set(rankings.pareto_accuracy_time.__sail__.metrics) <= produced
    chemistry = chemistry_rankings.pareto_error_speed.__sail__
    assert chemistry.field == "chemistry" and chemistry.pareto == Pareto(force_mae="min", rollout_steps_per_second="max")
    assert {f.__name__ for f in vars(chemistry_metrics).values() if hasattr(f, "__sail__")} >= set(chemistry.metrics)


def test_a_comparison_of_its_own_is_a_partial_order() -> None:
    @ranking(metrics=("accuracy", "train_time"), order="partial")
    def clearly_better(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
        """Better by a point of accuracy at no more time."""
        return a["accuracy"] > b["accuracy"] + 0.01 and a["train_time"] <= b["train_time"]

    spec = clearly_better.__sail__  # type: ignore[attr-defined]
    assert spec.order == "partial" and spec.pareto is None


@pytest.mark.parametrize(("declare", "says"), [
    (lambda: Pareto(accuracy="max"), "two metrics or more"),
    (lambda: Pareto(accuracy="max", train_time="lowest"), "'max' (larger is better) or 'min'"),  # type: ignore[arg-type]
    (lambda: Pareto(**{"no good": "max", "x": "min"}), "is not a name"),  # type: ignore[arg-type]
    (lambda: ranking(metrics=("a", "b"), order=Pareto(accuracy="max", train_time="min")), "leave metrics out"),
    (lambda: ranking(metrics=("a",), order="sideways"), "must be 'total' (a score), 'partial'"),  # type: ignore[arg-type]
    (lambda: ranking(), "names the metrics it reads"),
])
def test_bad_declarations_say_how_to_fix_them(declare: Any, says: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        declare()
    assert says in str(caught.value)


def test_pareto_dominance_needs_better_somewhere() -> None:
    fast = Pareto(accuracy="max", train_time="min")
    same = {"accuracy": 0.9, "train_time": 1.0}
    assert not fast.dominates(same, same)
    assert fast.dominates({"accuracy": 0.9, "train_time": 0.5}, same)
    assert not fast.dominates({"accuracy": 0.95, "train_time": 2.0}, same)


# --- non-dominated sorting against a brute-force reference -------------------------------------


def brute_better(p: tuple[int, ...], q: tuple[int, ...], signs: tuple[int, ...]) -> bool:
    """``p`` dominates ``q``: written apart from ``Pareto.dominates``, on signed tuples."""
    ps, qs = [s * x for s, x in zip(signs, p)], [s * x for s, x in zip(signs, q)]
    return ps != qs and min(x - y for x, y in zip(ps, qs)) >= 0


def brute_fronts(points: list[tuple[int, ...]], signs: tuple[int, ...]) -> list[set[int]]:
    """Peel the non-dominated points off again and again, by definition."""
    left, out = set(range(len(points))), []
    while left:
        top = {i for i in left if not any(brute_better(points[j], points[i], signs) for j in left)}
        out.append(top)
        left -= top
    return out


points_and_signs = st.integers(2, 3).flatmap(lambda d: st.tuples(
    st.lists(st.tuples(*[st.integers(0, 4)] * d), max_size=14), st.tuples(*[st.sampled_from([1, -1])] * d)))


@given(points_and_signs)
def test_fronts_match_brute_force_and_their_defining_properties(case: tuple[list[tuple[int, ...]], tuple[int, ...]]) -> None:
    points, signs = case
    names = [f"m{i}" for i in range(len(signs))]
    order = Pareto(**{n: "max" if s > 0 else "min" for n, s in zip(names, signs)})
    matrix = dominance(order.dominates, [dict(zip(names, map(float, p))) for p in points])
    front = fronts(matrix)
    expected = brute_fronts(points, signs)
    assert [{i for i, f in enumerate(front) if f == k} for k in range(1, len(expected) + 1)] == expected
    # front 1 is exactly what no point dominates; the fronts partition the points
    assert {i for i, f in enumerate(front) if f == 1} == {
        i for i, p in enumerate(points) if not any(brute_better(q, p, signs) for q in points)}
    assert sorted(i for k in expected for i in k) == list(range(len(points)))
    for i, f in enumerate(front):
        if f > 1:  # dominated by some point of the front before
            assert any(front[j] == f - 1 and brute_better(points[j], points[i], signs) for j in range(len(points)))
        # never by one of its own front or a later one
        assert not any(front[j] >= f and brute_better(points[j], points[i], signs) for j in range(len(points)))
        # its front is one more than the highest among those dominating it
        assert f == joining(front, [row[i] for row in matrix])


def test_a_comparison_that_is_no_partial_order_fails() -> None:
    with pytest.raises(RankingFailed, match="dominates itself"):
        dominance(lambda a, b: True, [{"x": 1.0}])
    with pytest.raises(RankingFailed, match="dominate each other"):
        dominance(lambda a, b: a["x"] != b["x"], [{"x": 1.0}, {"x": 2.0}])
    with pytest.raises(RankingFailed, match="returns True or False"):
        dominance(lambda a, b: 1, [{"x": 1.0}])  # type: ignore[arg-type,return-value]
    rock_paper_scissors = [[False, True, False], [False, False, True], [True, False, False]]
    with pytest.raises(RankingFailed, match="cycle"):
        fronts(rock_paper_scissors)


# --- leaderboards --------------------------------------------------------------------------------

TRADE_OFF = {"slow_best": (0.99, 10.0), "fast_good": (0.95, 1.0), "fastest": (0.90, 0.1),
             "dominated": (0.94, 2.0), "worst": (0.80, 5.0)}


def _records(reference: tuple[float, float] | None = None) -> list[Record]:
    details: dict[str, Any] = {} if reference is None else {"reference": "majority class",
                                            "reference_metrics": {"accuracy": reference[0], "train_time": reference[1]}}
    return [record(run(m, seed=s), {"accuracy": a, "train_time": t * (1 + s / 100)}, **details)
            for m, (a, t) in TRADE_OFF.items() for s in range(3)]


def test_a_partial_order_board_places_configurations_in_fronts() -> None:
    board = leaderboard(PARETO, _records())
    fronts_of = {e.run.model: e.place for e in board.entries}
    assert fronts_of == {"slow_best": 1, "fast_good": 1, "fastest": 1, "dominated": 2, "worst": 3}
    assert [e.run.model for e in board.entries][:3] == ["slow_best", "fast_good", "fastest"]  # by accuracy within a front
    assert all(e.front == e.place and math.isnan(e.score) and e.scores == () for e in board.entries)
    shown = board.entries[3].to_json()
    assert (shown["order"], shown["front"], shown["place"]) == ("partial", 2, 2)
    assert "tie_test" not in shown and "fronts" in shown["ranked_on"]
    assert leaderboard(described(rankings.by_accuracy), _records()).entries[0].to_json()["order"] == "total"


def test_the_reference_is_shown_in_the_front_it_would_join_and_never_counted() -> None:
    plain = leaderboard(PARETO, _records())
    board = leaderboard(PARETO, _records(reference=(0.945, 1.5)))  # dominates "dominated" and "worst"
    assert [(e.run.model, e.place) for e in board.entries] == [(e.run.model, e.place) for e in plain.entries]
    (ref,) = board.references
    assert (ref.place, ref.front) == (None, 2)  # fast_good dominates it, nothing else does
    assert ref.to_json()["front"] == 2 and ref.to_json()["order"] == "partial"
    rows = [(e.label, e.place) for e in board.rows]
    assert rows.index(("reference: majority class", None)) == 4  # after front 2's method, before front 3


def test_unmeasured_metrics_and_no_ok_repetition_are_unranked() -> None:
    records = _records() + [record(run("unmeasured"), {"accuracy": 0.99, "train_time": NAN}),
                            record(run("crashed"), failed="timed out")]
    entries = leaderboard(PARETO, records).entries
    assert [(e.run.model, e.place) for e in entries[-2:]] == [("unmeasured", None), ("crashed", None)]


def test_a_failing_comparison_fails_its_board_only_with_a_note() -> None:
    @ranking(metrics=("accuracy", "train_time"), order="partial")
    def broken(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
        """Raises."""
        raise ZeroDivisionError("no")

    board = leaderboard(described(broken), _records())
    assert board.entries == () and "ZeroDivisionError" in board.notes[0]


def test_tuned_leaves_a_partial_order_untuned_and_says_so() -> None:
    board = leaderboard(PARETO, _records(), tuned=True)
    assert not board.tuned and board.notes == (UNTUNED,) and len(board.entries) == len(TRADE_OFF)


def test_the_table_shows_fronts_and_says_partial_order() -> None:
    console = Console(file=io.StringIO(), width=100)
    for table in tables(leaderboard(PARETO, _records(reference=(0.945, 1.5)))):
        console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "partial order: Pareto fronts over accuracy (higher better), train_time (lower better)" in " ".join(text.split())
    assert "score" not in text.split("\n")[3]  # no score column in the header
    places = [line.split()[0] for line in text.splitlines() if "adam" in line or "reference:" in line]
    assert places == ["1", "1", "1", "2", "ref", "3"]
    assert "in the front it would join, never counted" in " ".join(text.split())


def test_describing_checks_a_comparison_takes_two_arguments() -> None:
    from saibench_core.discovery.describe import describe
    from sail_types import InvalidSignature

    order = Pareto(accuracy="max", train_time="min")

    @ranking(order=order)
    def one_argument(values: Mapping[str, float]) -> bool:
        """A score's signature on a comparison."""
        return True

    with pytest.raises(InvalidSignature, match="a partial-order ranking compares: def r"):
        describe(one_argument, "p", "0")
    assert describe(rankings.pareto_accuracy_time, "standard", "0").spec.pareto == order
