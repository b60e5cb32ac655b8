"""The run key covers everything that decides a result: a plugin's whole package (helpers
and constants), the engine's source and version, the numerical libraries, every loaded
plugin, and the dataset the problem returns. Same code gives the same key, in any process."""

from __future__ import annotations

import importlib
import platform
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import attrs
import pytest

from saibench_core.discovery import Catalog, PluginInfo, describe, load_catalog
from saibench_core.execute import fingerprint, run_campaign
from saibench_core.execute.campaign import with_checksums
from saibench_core.execute.isolate import PodOptions
from saibench_core.execute.key import RunKeys
from saibench_core.execute.probe import Point, probe
from saibench_core.planner import Planner, Run, select
from saibench_core.results import Store

from . import fake_plugin

MODELS = '''
from typing import Annotated
from sail_types import Classify, Input, Label, Layer, Linear, Pipeline, Tensor, model
from .helpers import WIDTH


@model(task=Classify)
def widened(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    return Pipeline(Linear(WIDTH), Linear("k"))
'''

PLUGIN = PluginInfo("keyplug", "saibench-keyplug", "0.1")


@pytest.fixture(autouse=True)
def fresh_fingerprints() -> Iterator[None]:
    """Memoized fingerprints would hide what a test changes, and leak it into the next."""
    fingerprint.forget()
    yield
    fingerprint.forget()


def a_run(**changes: object) -> Run:
    run = Run(problem="wine", model="widened", trainer="adam", software="jax", hardware="cpu", chain=(),
              chain_cost=0.0, dims={}, hyper={}, metrics=(), rankings=())
    return attrs.evolve(run, **changes)


def package_catalog(tmp_path: Path, package: str, width: int, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """A catalog of one model from package ``package``, whose helper module sets ``WIDTH``."""
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "helpers.py").write_text(f"WIDTH = {width}\n")
    (root / "models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    fn = importlib.import_module(f"{package}.models").widened
    return Catalog((describe(fn, PLUGIN.name, PLUGIN.version),), (PLUGIN,))


def test_a_constant_in_a_helper_module_changes_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    same = [RunKeys(package_catalog(tmp_path, name, 16, monkeypatch))(a_run()) for name in ("keyplug_a", "keyplug_b")]
    changed = RunKeys(package_catalog(tmp_path, "keyplug_c", 17, monkeypatch))(a_run())
    assert same[0] == same[1]  # the same source in another place is the same code
    assert changed != same[0]  # the model function's own source is unchanged: only its helper differs


def test_the_engine_source_and_version_change_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(())
    before = RunKeys(catalog)(a_run())
    engine_part = tmp_path / "train.py"
    engine_part.write_text("LEARNING_RATE = 1e-3\n")
    monkeypatch.setattr(fingerprint, "ENGINE_SOURCES", (*fingerprint.ENGINE_SOURCES, (fingerprint, str(engine_part), ())))
    with_part = RunKeys(catalog)(a_run())
    engine_part.write_text("LEARNING_RATE = 1e-2\n")
    fingerprint.forget()
    edited = RunKeys(catalog)(a_run())
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda dist: "99.0" if dist == "saibench" else real(dist))
    fingerprint.forget()
    upgraded = RunKeys(catalog)(a_run())
    assert len({before, with_part, edited, upgraded}) == 4


def test_the_engine_parts_that_decide_results_are_found_and_the_rest_are_not_in_the_key() -> None:
    engine = fingerprint.engine()
    for part in ("sail_types/.", "saibench_core/compile", "saibench_core/data", "saibench_core/execute",
                 "saibench_core/planner/compose.py"):
        assert engine[part] != "absent", f"{part} moved: update fingerprint.ENGINE_SOURCES, or its results go unkeyed"
    assert not [p for p in engine if p.startswith(("saibench_core/cli", "saibench_core/rank", "saibench_core/report"))]
    assert "saibench_core/planner/plan.py" not in engine


def test_an_engine_helper_counts_unless_it_only_schedules_pods(tmp_path: Path) -> None:
    (tmp_path / "pod_helper.py").write_text("EPS = 1e-6\n")
    (tmp_path / "scheduler.py").write_text("WORKERS = 2\n")
    before = fingerprint.tree(str(tmp_path), ("scheduler.py",))
    (tmp_path / "scheduler.py").write_text("WORKERS = 4\n")
    fingerprint.forget()
    assert fingerprint.tree(str(tmp_path), ("scheduler.py",)) == before
    (tmp_path / "pod_helper.py").write_text("EPS = 1e-7\n")
    fingerprint.forget()
    assert fingerprint.tree(str(tmp_path), ("scheduler.py",)) != before


@pytest.mark.parametrize("library", ["jax", "jaxlib", "optax", "numpy", "python"])
def test_a_library_version_changes_the_key(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    before = RunKeys(Catalog(()))(a_run())
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda dist: "0.0.1-other" if dist == library else real(dist))
    if library == "python":
        monkeypatch.setattr(platform, "python_version", lambda: "3.99.0")
    fingerprint.forget()
    assert RunKeys(Catalog(()))(a_run()) != before


def test_another_plugin_or_version_installed_changes_every_key() -> None:
    catalog = Catalog((), (PLUGIN,))
    before = RunKeys(catalog)(a_run())
    extra = RunKeys(attrs.evolve(catalog, plugins=(PLUGIN, PluginInfo("numpatch", "saibench-numpatch", "1.0"))))(a_run())
    upgraded = RunKeys(attrs.evolve(catalog, plugins=(attrs.evolve(PLUGIN, version="0.2"),)))(a_run())
    assert len({before, extra, upgraded}) == 3


def test_the_dataset_checksum_is_a_part_of_the_key() -> None:
    keys = RunKeys(Catalog(()))
    assert keys(a_run(dataset_checksum="a" * 64)) != keys(a_run(dataset_checksum="b" * 64))
    assert keys.parts(a_run(dataset_checksum="c" * 64))["dataset"] == "c" * 64


KEYED = '''
from typing import Annotated
from keyed_helpers import SCALE
from sail_types import Classify, Input, Label, Layer, Linear, Pipeline, Tensor, hookimpl, model


@model(task=Classify)
def widened(x: Annotated[Input, Tensor("d")]) -> Annotated[Layer, Label("k")]:
    assert SCALE > 0
    return Pipeline(Linear("k"))


@hookimpl
def saibench_modules():
    return [widened]
'''

PRINT_KEY = textwrap.dedent("""
    from saibench_core.discovery import load_catalog
    from saibench_core.execute import run_key
    from saibench_core.planner import Run
    run = Run(problem="wine", model="widened", trainer="adam", software="jax", hardware="cpu", chain=(),
              chain_cost=0.0, dims={}, hyper={}, metrics=(), rankings=())
    print(run_key(load_catalog(), run))
""")


def test_keys_agree_across_processes_and_follow_a_single_file_plugins_helper_and_installed_plugins(tmp_path: Path) -> None:
    env = fake_plugin.install(tmp_path, "keyed", KEYED)
    (tmp_path / "keyed_helpers.py").write_text("SCALE = 1.0\n")

    def key(pythonpath: str) -> str:
        done = subprocess.run([sys.executable, "-c", PRINT_KEY], capture_output=True, text=True, timeout=120,
                              env={**env, "PYTHONPATH": pythonpath})
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    first, again = key(str(tmp_path)), key(str(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    fake_plugin.install(other, "numpatch", "import numpy\nnumpy.pi = 3.0\n")
    with_another_plugin = key(f"{tmp_path}:{other}")
    (tmp_path / "keyed_helpers.py").write_text("SCALE = 2.0\n")
    helper_changed = key(str(tmp_path))
    assert first == again
    assert len({first, with_another_plugin, helper_changed}) == 3


PROBED = '''
from typing import Annotated
import numpy as np
from numpy.typing import NDArray
from sail_types import Classify, Dataset, Label, Tensor, Test, Train, hookimpl, problem

X = Annotated[NDArray[np.float32], Tensor(4)]
Y = Annotated[NDArray[np.int64], Label(3)]


def _data(first: float) -> Dataset[X, Y]:
    x = np.zeros((6, 4), np.float32)
    x[0, 0] = first
    y = np.arange(6) % 3
    return Dataset(Train(x, y), Test(x, y))


@problem(task=Classify)
def probed_zero() -> Dataset[X, Y]:
    return _data(0.0)


@problem(task=Classify)
def probed_one() -> Dataset[X, Y]:
    return _data(1.0)


@problem(task=Classify)
def probed_broken() -> Dataset[X, Y]:
    raise OSError("the data server is down")


@hookimpl
def saibench_modules():
    return [probed_zero, probed_one, probed_broken]
'''


@pytest.fixture
def probed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """The installed plugins plus three problems: two whose data differ in one value, one that raises."""
    fake_plugin.install(tmp_path, "probed", PROBED)
    monkeypatch.syspath_prepend(str(tmp_path))  # pods take this process's path, so they find the plugin too
    return load_catalog()


def test_a_changed_dataset_changes_the_key(probed: Catalog) -> None:
    options = PodOptions(timeout=120)
    zero, zero_again, one = (probe(Point(name, "{}", None), options) for name in ("probed_zero", "probed_zero", "probed_one"))
    assert zero.status == one.status == "ok", (zero.reason, one.reason)
    keys = RunKeys(probed)
    checksums = [str(o.details["dataset_checksum"]) for o in (zero, zero_again, one)]
    run_keys = [keys(a_run(problem="probed_zero", dataset_checksum=c)) for c in checksums]
    assert run_keys[0] == run_keys[1] != run_keys[2]


def test_a_problem_whose_data_cannot_load_fails_its_runs_and_the_campaign_goes_on(probed: Catalog, tmp_path: Path) -> None:
    runs = list(Planner(select(probed, {"problem": ["probed_broken"], "model": ["linear"]})).runs())
    assert runs
    with Store(tmp_path / "results.sqlite") as store:
        counts = run_campaign(probed, runs, store, options=PodOptions(timeout=120))
        records = list(store.records())
    assert counts == {"ok": 0, "failed": len(runs), "skipped": 0}
    assert len(records) == len(runs)
    for record in records:
        assert record.status == "failed" and record.details["stage"] == "dataset probe"
        assert "problem 'probed_broken' could not load its data" in record.reason
        assert "OSError: the data server is down" in record.reason


def test_a_campaign_keys_each_run_with_its_measured_dataset(probed: Catalog) -> None:
    runs = [a_run(problem=name, split=split) for name in ("probed_zero", "probed_one", "wine") for split in (0, 1)]
    measured = with_checksums(probed, runs, PodOptions(timeout=120), 2, RunKeys(probed))
    assert [outcome for _, _, outcome in measured] == [None] * 6
    checksums = [run.dataset_checksum for _, run, _ in measured]
    assert checksums[0] == checksums[1] != checksums[2] == checksums[3]  # these problems take no split_seed
    assert checksums[4] != checksums[5]  # wine's split_seed is the run's split
    keys = RunKeys(probed)
    assert all(run.dataset_checksum and key == keys(run) for key, run, _ in measured)  # keyed with what was measured
