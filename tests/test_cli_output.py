"""What the commands print and how they exit, in-process (click's runner, synthetic catalogs
and records): leaderboard tables at 80 columns, `check`, `plugins`, `run`'s boards, and the
local executor's launch failures."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from rich.console import Console

from saibench_core import cli
from saibench_core.check import Finding, Report
from saibench_core.discovery import Broken, Catalog, PluginInfo
from saibench_core.execute import PodOptions, executors
from saibench_core.planner import Fill, Run
from saibench_core.rank import leaderboard, tables
from saibench_core.results import Outcome, Store

from .test_leaderboard import BY_ACCURACY, INF, NAN, PER_TIME, record, run

KEY_WORDS = ("deep_sets", "adamw_cosine", "adam", "width=256", "phi.width=32", "3 ok", "2 failed", "n/a", "∞",
             "0.96", "0.9369", "score", "train_time", "accuracy")


def render(*boards: Any, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    for board in boards:
        for table in tables(board, width):
            console.print(table)
    return console.export_text()


def campaign() -> list[Any]:
    """A deep-sets configuration with 2 of 5 seeds failed, and two MLP grid points."""
    fills = (Fill("phi", "mlp_regressor", ("embed_atom",), 1.0, {}, {"width": 32}),)
    recs = []
    for s, acc in enumerate([0.97, 0.30, 0.96, 0.20, 0.95]):
        r = attrs.evolve(run(seed=s, split=s), model="deep_sets", fills=fills)
        recs.append(record(r, {"accuracy": acc, "train_time": 12.3 + s}) if s % 2 == 0 else record(r, failed="below 0.5"))
    for width, time in ((64, NAN), (256, 3.0)):
        recs += [record(run(width=width, seed=s, split=s, trainer="adamw_cosine"),
                        {"accuracy": 0.9 + s / 100, "train_time": time if s else INF}) for s in range(5)]
    return recs


def test_leaderboards_at_80_columns_fold_instead_of_cutting_and_keep_key_words_whole() -> None:
    text = render(leaderboard(PER_TIME, campaign()), leaderboard(BY_ACCURACY, campaign()))
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for word in KEY_WORDS:
        assert word in text, word
    assert "ranking accuracy_per_time on digits" in text and "5 repetitions: seeds 0–4, splits 0–4" in text
    assert "1!" in text and "ranked on its ok repetitions only" in text
    assert "every row: jax-float32 @ cpu lr=0.003" in text  # what every row shares is said once


def test_tables_say_unranked_and_tuned() -> None:
    recs = [attrs.evolve(r, details={"validation_metrics": {"accuracy": 0.8}}) if r.run.hyper["model"]["width"] == 256 else r
            for r in campaign()]
    text = " ".join(render(leaderboard(BY_ACCURACY, recs, tuned=True)).split())
    assert "ranking by_accuracy on digits, tuned on validation, test values" in text
    assert "tuned: per configuration, the grid point with the best median validation score; test values shown" in text
    assert "2 grid point(s) left out: no validation metrics stored" in text and "width=256" in text
    one = [record(run(f"m{i}"), {"accuracy": v}) for i, v in enumerate([0.5, NAN])]
    shown = render(leaderboard(BY_ACCURACY, one))
    assert "- unranked" in shown and "n/a: not measured; ∞: never reached" in shown


def test_check_exits_0_when_every_module_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    from saibench_core import check

    monkeypatch.setattr(cli._common, "load_catalog", lambda: Catalog(()))
    passing = Report((Finding("p", "model", "m", ()),), ())
    monkeypatch.setattr(check, "check_catalog", lambda catalog: passing)
    done = CliRunner().invoke(cli.main, ["check"])
    assert done.exit_code == 0, done.output
    assert "p: model m: ok" in done.output
    failing = Report((Finding("p", "model", "m", ("line 3: bad",)),), ())
    monkeypatch.setattr(check, "check_catalog", lambda catalog: failing)
    assert CliRunner().invoke(cli.main, ["check"]).exit_code == 1


def test_plugins_table_lists_broken_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog((), plugins=(PluginInfo("vision", "saibench-vision", "0.1"),),
                      broken=(Broken("broken", None, "cannot import 'saibench_broken': ModuleNotFoundError"),))
    monkeypatch.setattr(cli._common, "load_catalog", lambda: catalog)
    done = CliRunner().invoke(cli.main, ["plugins"])
    assert done.exit_code == 2
    table = done.stdout
    assert "vision" in table and "broken" in table and "BROKEN" in table and "ModuleNotFoundError" in table


def test_local_executor_turns_a_launch_exception_into_a_failed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def run_pod(key: str, r: Run, options: PodOptions) -> Outcome:
        if key == "bad":
            raise OSError("fork server is gone")
        return Outcome("ok", {"accuracy": 1.0})

    from saibench_core.execute import batch

    monkeypatch.setattr(batch, "run_pod", run_pod)
    jobs = [("bad", run()), ("good", run(seed=1))]  # two workers: each in its own pod
    outcomes = {key: outcome for key, _, outcome in executors.local(jobs, workers=2, options=PodOptions())}
    assert outcomes["good"].status == "ok"
    assert outcomes["bad"].status == "failed"
    assert outcomes["bad"].reason == "pod launch failed: OSError: fork server is gone"


def test_run_prints_only_the_boards_of_what_it_planned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from saibench_core import execute

    db = tmp_path / "results.sqlite"
    with Store(db) as store:
        store.put("other", run(problem="digits"), Outcome("ok", {"accuracy": 0.5}))

    def fake_campaign(catalog: Catalog, runs: list[Run], store: Store, **kwargs: Any) -> dict[str, int]:
        for i, r in enumerate(runs):
            store.put(f"k{i}", r, Outcome("ok", {"accuracy": 0.9, "balanced_accuracy": 0.9, "train_time": 1.0}))
            kwargs["on_done"](r, Outcome("ok", {"accuracy": 0.9}))
        return {"ok": len(runs), "failed": 0, "skipped": 0}

    monkeypatch.setattr(execute, "run_campaign", fake_campaign)
    done = CliRunner().invoke(cli.main, ["run", "--db", str(db), "--problem", "wine", "--model", "linear"])
    assert done.exit_code == 0, done.output
    assert "ranking by_accuracy on wine" in done.stdout
    assert "digits" not in done.stdout
    assert "wine × linear by adam" in done.output  # the run's line names its trainer
