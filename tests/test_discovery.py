"""Entry-point discovery with fake distributions, and broken-plugin isolation."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from saibench_core.discovery import BLOCK_ENV, ENTRY_POINT_GROUP, PluginManager

GOOD = '''
from typing import Annotated
from sail_types import Classify, Dataset, Label, Tensor, hookimpl, problem

@problem(task=Classify)
def {name}(*, seed: int = 0) -> Dataset[Annotated[list, Tensor(4)], Annotated[list, Label(3)]]:
    raise NotImplementedError

@hookimpl
def saibench_modules():
    return [{name}]
'''


class FakeDistribution:
    def __init__(self, name: str, module: str) -> None:
        self.metadata = {"Name": name}
        self.version = "1.2.3"
        self.entry_points = [md.EntryPoint(name=module, value=module, group=ENTRY_POINT_GROUP)]


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write(dir: Path, module: str, source: str) -> FakeDistribution:
    (dir / f"{module}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(module, None)  # a parametrized case reuses the name with new source
    importlib.invalidate_caches()
    return FakeDistribution(f"dist-{module}", module)


def load(dists: list[Any]) -> Any:
    manager = PluginManager()
    manager.load_entry_points(dists)
    return manager.catalog()


def test_entry_points_of_fake_distributions_are_discovered(plugin_dir: Path) -> None:
    catalog = load([write(plugin_dir, "fake_alpha", GOOD.format(name="alpha"))])
    assert [(m.kind, m.name, m.plugin, m.version) for m in catalog] == [("problem", "alpha", "fake_alpha", "1.2.3")]
    assert catalog.plugins[0].distribution == "dist-fake_alpha"
    assert catalog.broken == ()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raise ImportError('needs libfoo')", "cannot import 'fake_bad': ImportError: needs libfoo"),
        ("from sail_types import hookimpl\n@hookimpl\ndef saibench_modules():\n    raise RuntimeError('boom')", "saibench_modules() raised RuntimeError: boom"),
        ("from sail_types import hookimpl\n@hookimpl\ndef saibench_modulez():\n    return []", "invalid plugin"),
        ("from sail_types import hookimpl, model, Classify\n@model(task=Classify)\ndef m(x: int) -> int:\n    return x\n@hookimpl\ndef saibench_modules():\n    return [m]", "input 'x' needs a SAIL type annotation"),
    ],
)
def test_broken_plugin_is_reported_and_others_still_load(plugin_dir: Path, source: str, expected: str) -> None:
    dists = [write(plugin_dir, "fake_good", GOOD.format(name="good")), write(plugin_dir, "fake_bad", source)]
    catalog = load(dists)
    assert [m.name for m in catalog] == ["good"]
    assert len(catalog.broken) == 1
    assert catalog.broken[0].plugin == "fake_bad"
    assert expected in catalog.broken[0].reason


def test_hardware_probe_raising_is_isolated(plugin_dir: Path) -> None:
    source = "from sail_types import hardware, hookimpl\n@hardware()\ndef weird():\n    return 1/0\n@hookimpl\ndef saibench_modules():\n    return [weird]"
    catalog = load([write(plugin_dir, "fake_hw", source), write(plugin_dir, "fake_ok", GOOD.format(name="ok"))])
    assert [m.name for m in catalog] == ["ok"]
    assert catalog.broken[0].module == "weird" and "ZeroDivisionError" in catalog.broken[0].reason


def test_duplicate_module_names_are_reported(plugin_dir: Path) -> None:
    catalog = load([write(plugin_dir, "fake_one", GOOD.format(name="same")), write(plugin_dir, "fake_two", GOOD.format(name="same"))])
    assert list(catalog) == []  # neither wins silently: both are broken, each naming both distributions
    assert [b.plugin for b in catalog.broken] == ["fake_one", "fake_two"]
    assert all("dist-fake_one 1.2.3" in b.reason and "dist-fake_two 1.2.3" in b.reason for b in catalog.broken)


def test_block_list_environment_variable(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLOCK_ENV, "fake_b")
    catalog = load([write(plugin_dir, "fake_a", GOOD.format(name="a")), write(plugin_dir, "fake_b", GOOD.format(name="b"))])
    assert [m.name for m in catalog] == ["a"]


def test_bundled_plugins_are_found_through_entry_points(catalog: Any) -> None:
    dists = {p.name: p.distribution for p in catalog.plugins}
    assert dists["vision"] == "saibench-vision" and dists["standard"] == "saibench-standard"
    assert dists["tutorial"] == "saibench-tutorial"
    assert catalog.broken == ()
