"""Prepared datasets (``sail_types.DataSource``, ``saibench_core.data.prepared``) and
``saibench data``: prepared once, atomically, under a lock; verified against a SHA-256
manifest recomputed independently with hashlib; damage named with its fix; an
interrupted preparation redone; unknown names and sizes refused with exit 2."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from saibench_core.cli import main
from saibench_core.data import prepared, registry
from saibench_core.errors import UsageError
from sail_types import DataSource, InvalidValue, Size

CALLS: list[str] = []


def _make(folder: Path, size: str, progress: Any) -> None:
    CALLS.append(size)
    n = 10 if size == "quick" else 100
    np.save(folder / "x.npy", np.arange(n, dtype=np.float32))
    progress(0.5, "half")
    np.save(folder / "y.npy", np.arange(n, dtype=np.int64) % 3)


RAMP = DataSource("ramp", _make, licence="CC0-1.0", source="generated (a ramp)", parameters={"step": 1},
                  sizes={"quick": Size(10, 400), "full": Size(100, 1300)})


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAIBENCH_DATASETS", str(tmp_path / "datasets"))
    CALLS.clear()
    return tmp_path / "datasets"


def test_open_prepares_once_and_memory_maps(cache: Path) -> None:
    arrays = RAMP.open("quick")
    assert isinstance(arrays["x"], np.memmap) and not arrays["x"].flags.writeable
    np.testing.assert_array_equal(arrays["x"], np.arange(10))
    RAMP.open("quick")
    assert CALLS == ["quick"]
    record = json.loads((cache / "ramp" / "quick" / "manifest.json").read_text())
    for name in ("x.npy", "y.npy"):
        path = cache / "ramp" / "quick" / name
        assert record["files"][name] == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}
    assert record["licence"] == "CC0-1.0" and record["parameters"] == {"step": 1}


def test_damage_is_found_by_verify_and_by_open(cache: Path) -> None:
    RAMP.open("quick")
    path = cache / "ramp" / "quick" / "x.npy"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    problems = prepared.verify(RAMP, "quick")
    assert len(problems) == 1 and str(path) in problems[0]
    with pytest.raises(UsageError, match=r"x\.npy.*saibench data prepare ramp --size quick --force"):
        RAMP.open("quick")
    prepared.prepare(RAMP, "quick", force=True)
    assert prepared.verify(RAMP, "quick") == []


def test_an_interrupted_preparation_leaves_nothing_and_is_redone(cache: Path) -> None:
    def broken(folder: Path, size: str, progress: Any) -> None:
        np.save(folder / "x.npy", np.zeros(3))
        raise KeyboardInterrupt

    source = DataSource("ramp", broken, licence="CC0-1.0", source="s", sizes={"quick": Size(3, 200)})
    with pytest.raises(KeyboardInterrupt):
        prepared.prepare(source, "quick")
    assert prepared.state(RAMP, "quick") == "missing"
    assert [p.name for p in (cache / "ramp").iterdir() if not p.name.endswith(".lock")] == []
    (cache / "ramp" / ".quick.tmp-killed").mkdir()  # what a SIGKILL leaves
    prepared.prepare(RAMP, "quick")
    assert prepared.state(RAMP, "quick") == "prepared" and not (cache / "ramp" / ".quick.tmp-killed").exists()


def test_two_runners_prepare_once() -> None:
    threads = [threading.Thread(target=prepared.prepare, args=(RAMP, "full")) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert CALLS == ["full"] and prepared.verify(RAMP, "full") == []


def test_a_full_disk_is_refused_before_any_work() -> None:
    huge = DataSource("huge", _make, licence="CC0-1.0", source="s", sizes={"quick": Size(1, 2**62)})
    with pytest.raises(UsageError, match="needs .* MiB .* free"):
        prepared.prepare(huge, "quick")
    assert CALLS == []


def test_a_new_version_is_outdated_and_prepared_again() -> None:
    RAMP.open("quick")
    newer = DataSource("ramp", _make, licence="CC0-1.0", source="s", version="2", sizes=RAMP.sizes)
    assert prepared.state(newer, "quick") == "outdated"
    newer.open("quick")
    assert CALLS == ["quick", "quick"] and prepared.state(newer, "quick") == "prepared"


def test_bad_declarations_and_sizes_are_refused() -> None:
    with pytest.raises(InvalidValue, match="lower-case"):
        DataSource("Ramp", _make, licence="x", source="s", sizes={"quick": Size(1, 1)})
    with pytest.raises(InvalidValue, match="'quick'"):
        DataSource("ramp", _make, licence="x", source="s", sizes={"full": Size(1, 1)})
    with pytest.raises(InvalidValue, match="known sizes: quick, full"):
        RAMP.open("huge")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(registry, "declared", lambda: ({"ramp": RAMP}, []))
    return CliRunner()


def test_cli_list_prepare_verify_remove(cli: CliRunner, cache: Path) -> None:
    listed = json.loads(cli.invoke(main, ["data", "list", "--json"]).output)
    assert listed["sizes"]["quick"] == {"samples": 10, "bytes": 400, "state": "missing", "folder": str(cache / "ramp" / "quick")}
    assert cli.invoke(main, ["data", "prepare", "ramp"]).exit_code == 0
    assert "prepared" in cli.invoke(main, ["data", "list"]).output
    assert cli.invoke(main, ["data", "verify"]).exit_code == 0
    (cache / "ramp" / "quick" / "y.npy").write_bytes(b"damaged")
    damaged = cli.invoke(main, ["data", "verify", "ramp"])
    assert damaged.exit_code == 1 and "y.npy" in damaged.output and "--force" in damaged.output
    assert "removed" in cli.invoke(main, ["data", "remove", "ramp"]).output
    assert prepared.state(RAMP, "quick") == "missing"


def test_cli_unknown_dataset_or_size_is_one_line_exit_2(cli: CliRunner) -> None:
    unknown = cli.invoke(main, ["data", "prepare", "nope"])
    assert unknown.exit_code == 2 and "unknown dataset 'nope'; known datasets: ramp" in unknown.output
    size = cli.invoke(main, ["data", "prepare", "ramp", "--size", "huge"])
    assert size.exit_code == 2 and "known sizes: quick, full" in size.output and CALLS == []


def test_a_broken_datasets_hook_breaks_only_its_plugin() -> None:
    from saibench_core.discovery.catalog import PluginInfo
    from saibench_core.discovery.manager import PluginManager
    from sail_types import hookimpl

    class Good:
        @hookimpl
        def saibench_datasets(self) -> list[DataSource]:
            return [RAMP]

    class Raises:
        @hookimpl
        def saibench_datasets(self) -> list[DataSource]:
            raise RuntimeError("no data here")

    class Wrong:
        @hookimpl
        def saibench_datasets(self) -> list[str]:
            return ["ramp"]

    manager = PluginManager()
    for name, plugin in (("good", Good()), ("raises", Raises()), ("wrong", Wrong())):
        manager.register(plugin, PluginInfo(name, "<local>", "0"))
    assert manager.datasets() == [("good", RAMP)]
    assert {b.plugin for b in manager.broken} == {"raises", "wrong"}
    assert any("no data here" in b.reason for b in manager.broken)
