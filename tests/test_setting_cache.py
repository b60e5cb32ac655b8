"""Problems defined by a setting: simulated once, cached by a content hash of the setting
(problem, arguments, plugin sources, versions), loaded identically after, simulated again
when the setting changes or the cache is damaged; progress lines reach the runner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from saibench_core.data import dataset_checksum, load_problem
from saibench_core.data import setting as cache
from saibench_core.discovery import Catalog, Descriptor
from saibench_core.errors import UsageError
from saibench_core.execute import fingerprint

from . import fake_plugin

PLUGIN = '''
import os
from pathlib import Path
from typing import Annotated

import numpy as np
from numpy.typing import NDArray

from sail_types import Dataset, Experiment, Regress, Scalar, Tensor, Test, Train, hookimpl, problem

Data = Dataset[Annotated[NDArray[np.float32], Tensor(2)], Annotated[NDArray[np.float32], Scalar()]]
def count():
    with Path(os.environ["SETTINGTOY_CALLS"]).open("a") as f:
        f.write("x")


def measure(model, data):
    return {"n": float(len(data["start"]))}


@problem(task=Regress, kind="setting")
def simulated(*, steps: int = 3, progress=None) -> Data:
    count()
    rng = np.random.default_rng(steps)
    for i in range(steps):
        if progress is not None:
            progress((i + 1) / steps, f"step {i + 1} of {steps}")
    x = rng.normal(size=(10, 2)).astype(np.float32)
    return Dataset(Train(x, x.sum(1), meta={"tag": np.arange(10), "name": np.asarray(list("abcdefghij"))}),
                   Test(x[:4], x[:4].sum(1)), experiments={"measure": Experiment(measure, data={"start": np.ones(3)})})


@problem(task=Regress, kind="setting")
def anonymous() -> Data:
    x = np.zeros((4, 2), dtype=np.float32)
    return Dataset(Train(x, x.sum(1)), Test(x, x.sum(1)), experiments={"e": Experiment(lambda model, data: {})})


@problem(task=Regress)
def by_cases() -> Data:
    count()
    x = np.zeros((4, 2), dtype=np.float32)
    return Dataset(Train(x, x.sum(1)), Test(x, x.sum(1)))


@hookimpl
def saibench_modules():
    return [simulated, anonymous, by_cases]
'''


@pytest.fixture()
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Catalog, Path]]:
    monkeypatch.setenv("SAIBENCH_DATA_CACHE", str(tmp_path / "settings"))
    monkeypatch.setenv("SETTINGTOY_CALLS", str(tmp_path / "calls.txt"))
    (tmp_path / "plugin").mkdir()
    with fake_plugin.installed_catalog(tmp_path / "plugin", "settingtoy", PLUGIN) as catalog:
        yield catalog, tmp_path / "calls.txt"


def _calls(path: Path) -> int:
    return len(path.read_text()) if path.exists() else 0


def _problem(catalog: Catalog, name: str) -> Descriptor:
    return catalog.require("problem", name)


def test_a_setting_is_simulated_once_and_loaded_identically_after(plugin: tuple[Catalog, Path], tmp_path: Path) -> None:
    catalog, calls = plugin
    desc = _problem(catalog, "simulated")
    assert [h.name for h in desc.hyper] == ["steps"]  # progress is the engine's keyword, not a hyperparameter
    first = load_problem(desc, {"steps": 3})
    second = load_problem(desc, {"steps": 3})
    assert _calls(calls) == 1
    assert dataset_checksum(first) == dataset_checksum(second)
    np.testing.assert_array_equal(second.train.meta["name"], list("abcdefghij"))
    assert second.experiments["measure"].run.__qualname__ == "measure"
    np.testing.assert_array_equal(second.experiments["measure"].data["start"], np.ones(3))
    load_problem(desc, {"steps": 4})  # another setting
    assert _calls(calls) == 2
    folders = sorted((tmp_path / "settings" / "simulated").iterdir())
    assert len(folders) == 2
    recorded = json.loads((folders[0] / "setting.json").read_text())
    assert recorded["problem"] == "simulated" and recorded["package"] == "saibench_settingtoy"
    assert recorded["arguments"] in ({"steps": 3}, {"steps": 4}) and len(recorded["sources"]) == 64


def test_the_key_changes_with_the_plugins_source(plugin: tuple[Catalog, Path]) -> None:
    catalog, _ = plugin
    fn = _problem(catalog, "simulated").fn
    before = cache.setting_key(cache.setting_of("simulated", fn, {"steps": 3}))
    source = Path(fn.__code__.co_filename)
    source.write_text(source.read_text() + "\n# an edit\n")
    fingerprint.tree.cache_clear()  # sources are fingerprinted once a process; a later process reads the edit
    fingerprint._source.cache_clear()
    assert cache.setting_key(cache.setting_of("simulated", fn, {"steps": 3})) != before
    assert cache.setting_key(cache.setting_of("simulated", fn, {"steps": 5})) != before


def test_a_damaged_cache_is_simulated_again(plugin: tuple[Catalog, Path], tmp_path: Path) -> None:
    catalog, calls = plugin
    desc = _problem(catalog, "simulated")
    good = dataset_checksum(load_problem(desc, {"steps": 3}))
    (folder,) = (tmp_path / "settings" / "simulated").iterdir()
    arrays = folder / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:-10] + b"0123456789")
    assert dataset_checksum(load_problem(desc, {"steps": 3})) == good
    assert _calls(calls) == 2
    assert dataset_checksum(load_problem(desc, {"steps": 3})) == good and _calls(calls) == 2  # cached again


def test_caching_off_and_problems_by_cases_always_run(plugin: tuple[Catalog, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, calls = plugin
    for _ in range(2):
        load_problem(_problem(catalog, "by_cases"), {})
    assert _calls(calls) == 2
    monkeypatch.setenv("SAIBENCH_DATA_CACHE", "off")
    for _ in range(2):
        load_problem(_problem(catalog, "simulated"), {"steps": 2})
    assert _calls(calls) == 4


def test_an_experiment_the_cache_cannot_name_is_refused_with_the_fix(plugin: tuple[Catalog, Path]) -> None:
    catalog, _ = plugin
    with pytest.raises(UsageError, match=re.escape("problem 'anonymous' (kind='setting') returns experiment 'e' whose run")) as caught:
        load_problem(_problem(catalog, "anonymous"), {})
    assert "define it with 'def e(model, data): ...' at module level" in str(caught.value)


def test_progress_lines_are_throttled_and_shown_by_the_runner(capsys: pytest.CaptureFixture[str]) -> None:
    progress = cache.Progress("md_bulk", every=3600)
    progress(0.1, "trajectory 1 of 5")
    progress(0.2, "trajectory 2 of 5")  # within the interval: not printed
    progress(1.0, "done")  # the last one always is
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(line.startswith(cache.PROGRESS_PREFIX) for line in lines)
    cache.show_progress(lines[0][len(cache.PROGRESS_PREFIX):].encode())
    cache.show_progress(b"not json")  # a problem may print anything: ignored
    assert capsys.readouterr().err == "saibench: problem md_bulk: 10% trajectory 1 of 5\n"


def test_progress_reaches_the_runner_from_a_pod(plugin: tuple[Catalog, Path], capfd: pytest.CaptureFixture[str]) -> None:
    from saibench_core.execute.isolate import PodOptions
    from saibench_core.execute.probe import Point, probe

    catalog, _ = plugin
    outcome = probe(Point("simulated", json.dumps({"steps": 3}), None), PodOptions(timeout=120))
    assert outcome.status == "ok", outcome.reason
    assert "saibench: problem simulated: 100% step 3 of 3" in capfd.readouterr().err
