"""Across leaderboards: perspectives (a community's rankings), performance profiles over
problems, and the anchored combined score - each against a hand computation or an
independent implementation, and through ``saibench rank``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from saibench_core import cli
from saibench_core.discovery import Catalog, Descriptor, load_catalog
from saibench_core.errors import InvalidInput, UsageError
from saibench_core.planner import Run
from saibench_core.rank import Entry, Leaderboard, leaderboard, leaderboards, perspective, profiles
from saibench_core.rank.combined import NAME, combined, combined_board
from saibench_core.rank.profiles import TAU_MAX, TAUS, area
from saibench_core.results import Outcome, Record, Store
from sail_types import ModuleSpec, Pareto


@pytest.fixture(scope="module")
def installed() -> Catalog:
    return load_catalog()


def spec_ranking(name: str, metrics: tuple[str, ...], field: str = "general", sign: float = 1.0) -> Descriptor:
    def score(values: Mapping[str, float]) -> float:
        return sign * values[metrics[0]]

    return Descriptor(name, "ranking", "test", "0", ModuleSpec("ranking", name, metrics=metrics, field=field), fn=score)


def spec_problem(name: str, field: str) -> Descriptor:
    return Descriptor(name, "problem", "test", "0", ModuleSpec("problem", name, field=field, task=_task()))


def _task() -> Any:
    from sail_types import Classify

    return Classify


def run(problem: str, model: str, *, seed: int = 0, trainer: str = "adam", width: int = 8) -> Run:
    return Run(problem, model, trainer, "jax-float32", "cpu", (), 0.0, {}, {"model": {"width": width}, "trainer": {}},
               (), (), seed=seed, split=seed, dataset_checksum=f"s{seed}")


def record(r: Run, metrics: Mapping[str, float], reference: Mapping[str, float] | None = None) -> Record:
    details = {} if reference is None else {"reference": "majority class", "reference_metrics": dict(reference)}
    return Record(f"{r.problem}-{r.model}-{r.trainer}-{r.hyper['model']['width']}-{r.seed}", r, "ok", "", dict(metrics), details, 1.0)


# --- perspectives ---------------------------------------------------------------------------------

VIEWS = Catalog((spec_ranking("by_accuracy", ("accuracy",)), spec_ranking("by_force", ("force_mae",), "chemistry", -1.0),
                 spec_ranking("by_psnr", ("psnr",), "microscopy"),
                 spec_problem("digits", "vision"), spec_problem("md_bulk", "chemistry"), spec_problem("md_cluster", "chemistry")))


def test_a_perspective_is_its_own_rankings_and_the_general_ones_on_its_problems() -> None:
    chosen, scope = perspective(VIEWS, ["chemistry"])
    assert [r.name for r in chosen.of("ranking")] == ["by_accuracy", "by_force"]  # not microscopy's
    assert scope == {"by_accuracy": frozenset({"md_bulk", "md_cluster"})}  # a community's own rankings: every problem
    records = [record(run(p, "mlp"), {"accuracy": 0.9, "force_mae": 1.0}) for p in ("digits", "md_bulk")]
    boards = {b.ranking.name: b for b in leaderboards(chosen, records, scope=scope)}
    assert [e.run.problem for e in boards["by_accuracy"].entries] == ["md_bulk"]
    assert sorted(e.run.problem for e in boards["by_force"].entries) == ["digits", "md_bulk"]


def test_perspectives_are_globs_and_repeatable() -> None:
    chosen, scope = perspective(VIEWS, ["chem*", "vis?on"])
    assert [r.name for r in chosen.of("ranking")] == ["by_accuracy", "by_force"]
    assert scope["by_accuracy"] == {"digits", "md_bulk", "md_cluster"}
    everyone, everywhere = perspective(VIEWS, ["*"])
    assert len(everyone.of("ranking")) == 3 and everywhere == {}  # "general" matches: its rankings rank every problem


def test_a_perspective_matching_no_field_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="perspective 'astro'; known fields: chemistry, general, microscopy, vision"):
        perspective(VIEWS, ["astro"])


# --- performance profiles ---------------------------------------------------------------------


def board_of(scores: Mapping[tuple[str, str], float], sign: float = 1.0) -> Leaderboard:
    """A board of one metric ``s``: (problem, model) -> its value, scored ``sign * s`` (-1: a negated error)."""
    ranking = spec_ranking("by_score", ("s",), sign=sign)
    records = [record(run(p, m), {"s": s}) for (p, m), s in scores.items()]
    return leaderboard(ranking, records)


HAND = {("p1", "a"): 0.9, ("p1", "b"): 0.45, ("p1", "c"): 0.6,
        ("p2", "a"): 0.5, ("p2", "b"): 0.8, ("p2", "c"): 0.4,
        ("p3", "a"): 0.7, ("p3", "b"): 0.7}  # c did not run on p3


def test_profiles_match_a_hand_computation() -> None:
    found, notes = profiles(board_of(HAND))
    by_model = {p.model: p for p in found}
    # ratios best/score: p1 best 0.9, p2 best 0.8, p3 best 0.7; c has no p3 score: infinite ratio
    assert by_model["a"].ratios == pytest.approx((1.0, 1.6, 1.0))
    assert by_model["b"].ratios == pytest.approx((2.0, 1.0, 1.0))
    assert by_model["c"].ratios[:2] == pytest.approx((1.5, 2.0)) and by_model["c"].ratios[2] == math.inf
    assert [by_model["a"].rho(t) for t in TAUS] == pytest.approx([2 / 3, 2 / 3, 2 / 3, 1, 1, 1])  # 1.6 > 1.5
    assert [by_model["c"].rho(t) for t in TAUS] == pytest.approx([0, 0, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    # area: mean over problems of 1 - log(r)/log(4)
    assert by_model["a"].area == pytest.approx((1 + (1 - math.log(1.6) / math.log(4)) + 1) / 3)
    assert by_model["b"].area == pytest.approx((0.5 + 1 + 1) / 3)
    assert [p.model for p in found] == ["a", "b", "c"] and notes == []


def test_negated_errors_take_the_error_as_the_cost() -> None:
    (a, b), _ = profiles(board_of({("p", "a"): 0.1, ("p", "b"): 0.3}, sign=-1.0))  # MAE 0.1 and 0.3
    assert (a.model, a.ratios, b.model) == ("a", (1.0,), "b") and b.ratios == pytest.approx((3.0,))


def test_a_problem_with_scores_of_both_signs_is_left_out_with_a_note() -> None:
    found, notes = profiles(board_of({("p", "a"): 0.5, ("p", "b"): -0.5, ("q", "a"): 1.0}))
    assert found[0].problems == ("q",) and "p left out" in notes[0]


def test_a_method_is_its_best_configuration_on_each_problem() -> None:
    ranking = spec_ranking("by_score", ("s",))
    records = [record(run("p", "a", width=w), {"s": s}) for w, s in ((8, 0.2), (16, 0.8))] + [record(run("p", "b"), {"s": 0.4})]
    found, _ = profiles(leaderboard(ranking, records))
    assert {p.model: p.ratios for p in found} == {"a": (1.0,), "b": (2.0,)}


def independent_profiles(scores: Mapping[tuple[str, str], float]) -> dict[str, tuple[list[float], float]]:
    """ρ at TAUS and the area by numerical integration on a fine log grid, from costs 1/s."""
    problems = sorted({p for p, _ in scores})
    methods = sorted({m for _, m in scores})
    cost = np.array([[1 / scores[p, m] if (p, m) in scores else np.inf for m in methods] for p in problems])
    ratio = cost / cost.min(axis=1, keepdims=True)
    grid = np.linspace(0.0, math.log(TAU_MAX), 20_001)
    out = {}
    for k, m in enumerate(methods):
        rho = [float(np.mean(np.isfinite(ratio[:, k]) & (ratio[:, k] <= t))) for t in TAUS]  # ∞: a score at all
        curve = (ratio[:, k][None, :] <= np.exp(grid)[:, None] * (1 + 1e-12)).mean(axis=1)
        out[m] = (rho, float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(grid)) / math.log(TAU_MAX)))
    return out


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from(["a", "b", "c"])),
                       st.floats(0.05, 1.0), min_size=1))
def test_profiles_agree_with_an_independent_implementation(scores: dict[tuple[str, str], float]) -> None:
    found, _ = profiles(board_of(scores))
    expected = independent_profiles(scores)
    for p in found:
        rho, integral = expected[p.model]
        assert [p.rho(t) for t in TAUS] == pytest.approx(rho)
        assert p.area == pytest.approx(integral, abs=1e-3)


def test_area_is_one_at_best_everywhere_and_zero_beyond_tau_max() -> None:
    assert area([1.0, 1.0]) == 1.0 and area([TAU_MAX, 10.0, math.inf]) == 0.0
    assert area([2.0]) == pytest.approx(0.5)  # log 2 / log 4


def test_a_partial_order_has_no_profile() -> None:
    ranking = Descriptor("pareto", "ranking", "t", "0", ModuleSpec("ranking", "pareto", metrics=("a", "b"), order="partial",
                                                                   pareto=Pareto(a="max", b="min")),
                         fn=Pareto(a="max", b="min").dominates)
    board = leaderboard(ranking, [record(run("p", "m"), {"a": 1.0, "b": 1.0})])
    assert profiles(board) == ([], ["ranking pareto: a partial order has no score, so no performance profile"])


# --- the anchored combined score ------------------------------------------------------------------

REFERENCE = {"accuracy": 0.1, "macro_f1": 0.02}


def _digits(model: str, accuracy: float, f1: float, seeds: int = 2) -> list[Record]:
    return [record(run("digits", model, seed=s), {"accuracy": accuracy, "macro_f1": f1}, REFERENCE) for s in range(seeds)]


def test_the_combined_score_is_the_weighted_mean_of_anchored_metrics(installed: Catalog) -> None:
    board = combined_board(installed, _digits("mlp", 0.91, 0.51), {"accuracy": 2.0, "macro_f1": 1.0})
    (entry,) = board.entries
    by_hand = (2 * (0.91 - 0.1) / 0.9 + (0.51 - 0.02) / 0.98) / 3
    assert board.ranking.name == NAME and entry.score == pytest.approx(by_hand)
    assert board.anchors == {"digits": {"accuracy": (0.1, 1.0), "macro_f1": (0.02, 1.0)}}
    (ref,) = board.references
    assert ref.score == pytest.approx(0.0)  # the reference is the zero of every anchored metric
    assert combined({"mae": 1.0}, {"mae": 1.0}, {"mae": (2.0, 0.0)}) == 0.5  # lower is better: 0 is the ideal


entries_st = st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=5)


@settings(max_examples=20, deadline=None)
@given(entries_st, st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), st.floats(0.1, 5.0))
def test_adding_a_method_moves_no_other_methods_score(installed: Catalog, methods: list[tuple[float, float]],
                                                     added: tuple[float, float], weight: float) -> None:
    weights = {"accuracy": weight, "macro_f1": 1.0}
    before = combined_board(installed, [r for i, (a, f) in enumerate(methods) for r in _digits(f"m{i}", a, f)], weights)
    after = combined_board(installed, [r for i, (a, f) in enumerate(methods) for r in _digits(f"m{i}", a, f)]
                           + _digits("new", *added), weights)
    scores: dict[str, Entry] = {e.run.model: e for e in after.entries}
    for e in before.entries:
        assert scores[e.run.model].score == e.score and scores[e.run.model].scores == e.scores
    assert after.anchors == before.anchors


@pytest.mark.parametrize(("weights", "anchors", "says"), [
    ({"nope": 1.0}, {}, "unknown metric 'nope'; installed metrics: "),
    ({"accuracy": 0.0}, {}, "is not a weight: give a finite number > 0"),
    ({"accuracy": math.nan}, {}, "is not a weight"),
    ({}, {}, "a weight per metric"),
    ({"psnr": 1.0}, {}, "psnr cannot be anchored: a metric to maximise with a unit (dB) has no ideal value"),
    ({"accuracy": 1.0}, {"accuracy": (1.0, 1.0)}, "is not two different finite numbers"),
])
def test_bad_weights_and_anchors_say_what_is_known(installed: Catalog, weights: dict[str, float],
                                                   anchors: dict[str, tuple[float, float]], says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        combined_board(installed, [], weights, anchors=anchors)
    assert says in str(caught.value)


def test_a_metric_without_a_stored_reference_needs_anchors(installed: Catalog) -> None:
    records = [record(run("digits", "mlp"), {"accuracy": 0.9, "train_time": 2.0}, REFERENCE)]
    board = combined_board(installed, records, {"accuracy": 1.0, "train_time": 1.0})
    assert board.entries == () and "train_time cannot be anchored" in board.notes[0]
    given = combined_board(installed, records, {"accuracy": 1.0, "train_time": 1.0}, anchors={"train_time": (10.0, 0.0)})
    assert given.entries[0].score == pytest.approx(((0.9 - 0.1) / 0.9 + 0.8) / 2)


# --- through saibench rank ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perspectives") / "results.sqlite"
    with Store(path) as store:
        for model, accuracy, seconds in (("mlp", 0.95, 1.0), ("cnn", 0.98, 4.0), ("linear", 0.90, 2.0)):
            for seed in range(2):
                r = run("digits", model, seed=seed)
                store.put(f"{model}-{seed}", r, Outcome("ok", {"accuracy": accuracy + seed / 1000, "macro_f1": accuracy,
                                                               "train_time": seconds},
                                                        details={"reference": "majority class", "reference_metrics": REFERENCE}))
        r = run("md_bulk", "deep_sets")
        store.put("md", r, Outcome("ok", {"force_mae": 40.0, "energy_mae": 3.0, "rollout_steps_per_second": 900.0,
                                          "train_time": 5.0}))
    return path


def rank(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli.main, ["rank", "--db", str(db), *args])


def test_rank_perspective_shows_a_communitys_boards(db: Path) -> None:
    boards = json.loads(rank(db, "--perspective", "chemistry", "--json").stdout)
    assert "by_psnr" not in boards and boards["by_accuracy"] == []  # no chemistry problem has an accuracy
    (front,) = boards["pareto_error_speed"]
    assert (front["model"], front["order"], front["front"]) == ("deep_sets", "partial", 1)
    vision = json.loads(rank(db, "--perspective", "vision", "--json").stdout)
    assert "pareto_error_speed" not in vision
    assert [(e["model"], e["front"]) for e in vision["pareto_accuracy_time"]] == [("cnn", 1), ("mlp", 1), ("linear", 2)]
    done = rank(db, "--perspective", "astro")
    assert done.exit_code == 2 and "known fields: chemistry" in done.stderr and len(done.stderr.splitlines()) == 1


def test_rank_profiles_and_combine_as_json_and_tables(db: Path) -> None:
    shown = json.loads(rank(db, "--ranking", "by_accuracy", "--profiles", "--combine", "accuracy=1,macro_f1=1", "--json").stdout)
    profile = {p["model"]: p for p in shown["performance-profiles"] if p["ranking"] == "by_accuracy"}
    assert profile["cnn"]["rho"][0] == 1.0 and profile["cnn"]["taus"][-1] == "Infinity"
    assert profile["linear"]["ratios"] == [pytest.approx(0.9805 / 0.9005)]
    assert [e["model"] for e in shown[NAME]] == ["cnn", "mlp", "linear"]
    assert shown[f"{NAME}-anchors"] == {"digits": {"accuracy": [0.1, 1.0], "macro_f1": [0.02, 1.0]}}
    text = rank(db, "--ranking", "by_accuracy", "--profiles", "--combine", "accuracy=1").stdout
    assert "performance profiles: ranking by_accuracy over 1 problem (digits)" in text
    assert "ranking combined-score on digits" in text


@pytest.mark.parametrize(("args", "says"), [
    (("--combine", "accuracy=x"), "--combine 'accuracy=x': 'x' is not a number"),
    (("--combine", "accuracy"), "--combine 'accuracy' is not NAME=VALUE"),
    (("--combine", "nope=1"), "--combine: unknown metric 'nope'; installed metrics: accuracy"),
    (("--combine", "accuracy=-1"), "is not a weight"),
    (("--combine", "accuracy=1", "--anchors", "accuracy=1"), "--anchors 'accuracy=1' is not METRIC=WORST:BEST"),
])
def test_bad_combine_options_are_one_line_with_exit_2(db: Path, args: tuple[str, ...], says: str) -> None:
    done = rank(db, *args)
    assert done.exit_code == 2 and says in done.stderr and len(done.stderr.strip().splitlines()) == 1
