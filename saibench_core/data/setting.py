"""Problems defined by a setting: a simulator's data, cached on disk by a content hash.

A problem of ``kind="setting"`` runs a simulator (molecular dynamics, image formation) to
produce its fixtures and experiments. What it returns is a pure function of its setting:
the plugin's source code, the versions of the distributions it runs on, the problem's
name and the arguments it is called with. The SHA-256 of those is the cache key, so the
dataset probe simulates once and every run of the campaign (and every later campaign)
loads the same arrays; an edited simulator or another version of ASE is another setting.

Layout: ``<cache>/settings/<problem>/<key>/`` holds ``arrays.npz`` and ``setting.json``
(the setting itself, the structure of the dataset, each experiment's function by module
and qualified name, and the SHA-256 of the arrays file). A folder is written under a
temporary name and renamed into place, so a reader never sees half of one and two runners
simulating the same setting at once both end with one complete copy; a folder whose
arrays do not match their recorded hash is removed and simulated again.

``SAIBENCH_DATA_CACHE`` chooses another cache folder; ``off`` simulates every time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from sail_types import Dataset, Experiment, Test, Train, Validation
from sail_types._callables import takes_keyword

from ..errors import UsageError
from .checksum import file_sha256

FORMAT = 1
PROGRESS_PREFIX = "saibench-progress "  # a pod's progress line, read by the runner (execute/isolate.py)
FIXTURES = {"train": Train, "validation": Validation, "test": Test}


def cache_root() -> Path | None:
    """Where settings are cached (``None``: caching is off)."""
    where = os.environ.get("SAIBENCH_DATA_CACHE")
    if where == "off":
        return None
    return Path(where) if where else Path(platformdirs.user_cache_dir("saibench")) / "settings"


def _versions(package: str) -> dict[str, str | None]:
    """The versions of the distributions providing ``package`` and of those they require."""
    from ..execute.fingerprint import installed

    versions: dict[str, str | None] = {}
    for dist in importlib.metadata.packages_distributions().get(package, []):
        names = [dist] + [r.split(";")[0].split("[")[0].strip().split(" ")[0].rstrip("<>=!~,")
                          for r in importlib.metadata.requires(dist) or [] if "extra ==" not in r]
        for name in names:
            name = "".join(c for c in name if c.isalnum() or c in "-_.")
            versions[name.lower()] = installed(name)
    return dict(sorted(versions.items()))


def setting_of(problem: str, fn: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a setting's data: the problem, its arguments, its plugin's sources (as
    the run key fingerprints them: ``fingerprint.package_source``) and the versions of the
    distributions it runs on (JSON-ready)."""
    from ..execute.fingerprint import package_source  # the engine's, imported when a setting is loaded

    package, sources = fn.__module__.split(".")[0], package_source(fn)
    return {"format": FORMAT, "problem": problem, "arguments": {k: arguments[k] for k in sorted(arguments)},
            "package": package, "sources": sources, "versions": _versions(package)}


def setting_key(setting: Mapping[str, Any]) -> str:
    """The content hash of a setting."""
    return hashlib.sha256(json.dumps(setting, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def _reference(run: Callable[..., Any], problem: str, name: str) -> str:
    module, qualname = getattr(run, "__module__", None), getattr(run, "__qualname__", "")
    if not module or "<" in qualname or _resolve(f"{module}:{qualname}") is not run:
        raise UsageError(f"problem {problem!r} (kind='setting') returns experiment {name!r} whose run {run!r} is not a function "
                         "defined at the top level of a module, so its cached setting cannot name it; define it with "
                         f"'def {name}(model, data): ...' at module level and pass Experiment({name}, data=...)")
    return f"{module}:{qualname}"


def _resolve(reference: str) -> Any:
    module, qualname = reference.split(":", 1)
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _flatten(problem: str, data: Dataset[Any, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays by name, the structure naming them)`` of a dataset."""
    arrays: dict[str, Any] = {}
    structure: dict[str, Any] = {"checksum": data.checksum, "fixtures": {}, "experiments": {}}
    for split in FIXTURES:
        fixture = getattr(data, split)
        if fixture is None:
            continue
        arrays[f"{split}.x"], arrays[f"{split}.y"] = np.asarray(fixture.x), np.asarray(fixture.y)
        keys = sorted(fixture.meta)
        arrays |= {f"{split}.meta.{i}": np.asarray(fixture.meta[k]) for i, k in enumerate(keys)}
        structure["fixtures"][split] = {"meta": keys}
    for name, experiment in data.experiments.items():
        keys = sorted(experiment.data)
        arrays |= {f"experiment.{name}.{i}": experiment.data[k] for i, k in enumerate(keys)}
        structure["experiments"][name] = {"run": _reference(experiment.run, problem, name), "data": keys}
    for name, array in arrays.items():
        if np.asarray(array).dtype.hasobject:
            raise UsageError(f"problem {problem!r} (kind='setting') returns {name} of Python objects, which cannot be cached; "
                             "give numbers, booleans or fixed-width strings (np.asarray(values, dtype=str))")
    return arrays, structure


def _rebuild(arrays: Mapping[str, Any], structure: Mapping[str, Any]) -> Dataset[Any, Any]:
    fixtures: dict[str, Any] = {}
    for split, layout in structure["fixtures"].items():
        meta = {k: arrays[f"{split}.meta.{i}"] for i, k in enumerate(layout["meta"])}
        fixtures[split] = FIXTURES[split](arrays[f"{split}.x"], arrays[f"{split}.y"], meta=meta)
    experiments = {name: Experiment(_resolve(layout["run"]), data={k: arrays[f"experiment.{name}.{i}"] for i, k in enumerate(layout["data"])})
                   for name, layout in structure["experiments"].items()}
    return Dataset(fixtures["train"], fixtures["test"], structure["checksum"], validation=fixtures.get("validation"),
                   experiments=experiments)


def read(folder: Path) -> Dataset[Any, Any] | None:
    """The dataset cached in ``folder``, or ``None`` where there is none or it is damaged
    (then removed, to be simulated again)."""
    try:
        recorded = json.loads((folder / "setting.json").read_text())
        if recorded.get("format") != FORMAT or file_sha256(folder / "arrays.npz") != recorded["arrays_sha256"]:
            raise ValueError("arrays do not match their recorded hash")
        with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        return _rebuild(arrays, recorded["structure"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError, ImportError, AttributeError):
        shutil.rmtree(folder, ignore_errors=True)
        return None


def write(folder: Path, setting: Mapping[str, Any], data: Dataset[Any, Any], seconds: float) -> None:
    """Cache ``data`` in ``folder``: written beside it under a temporary name, then renamed
    into place (a copy another runner renamed first is kept, and ours dropped)."""
    arrays, structure = _flatten(str(setting["problem"]), data)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        with (temporary / "arrays.npz").open("wb") as f:
            np.savez(f, **arrays)
        record = {**setting, "format": FORMAT, "structure": structure, "arrays_sha256": file_sha256(temporary / "arrays.npz"),
                  "simulation_seconds": seconds, "bytes": (temporary / "arrays.npz").stat().st_size}
        (temporary / "setting.json").write_text(json.dumps(record, indent=1, sort_keys=True, default=repr))
        try:
            os.rename(temporary, folder)
        except OSError:  # another runner cached this setting first: keep its copy
            pass
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


class Progress:
    """``progress(fraction, what="")`` as a problem receives it: one line on the pod's log
    (which the runner shows) at most every ``every`` seconds, and always the last."""

    def __init__(self, problem: str, every: float = 1.0) -> None:
        self.problem, self.every, self._last = problem, every, -float("inf")

    def __call__(self, fraction: float, what: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.every and fraction < 1.0:
            return
        self._last = now
        line = json.dumps({"problem": self.problem, "fraction": max(0.0, min(float(fraction), 1.0)), "what": str(what)[:200]})
        print(PROGRESS_PREFIX + line, file=sys.stderr, flush=True)


def show_progress(line: bytes) -> None:
    """Print a pod's progress line (``Progress``) on the runner's stderr; a malformed one
    is ignored (a problem may print anything)."""
    try:
        report = json.loads(line)
        text = f"saibench: problem {report['problem']}: {100 * float(report['fraction']):.0f}% {report['what']}".rstrip()
    except (ValueError, KeyError, TypeError):
        return
    print("".join(c for c in text if c.isprintable())[:300], file=sys.stderr, flush=True)


def load_problem(desc: Any, arguments: Mapping[str, Any]) -> Dataset[Any, Any]:
    """What problem ``desc`` (a ``Descriptor``) returns for ``arguments``: for a
    ``kind="setting"`` problem, from the cache when this setting is there, else simulated
    (with ``progress`` when it takes one) and cached; any other problem is called as is."""
    return load(desc.name, desc.fn, arguments, desc.spec.problem_kind)


def load(problem: str, fn: Callable[..., Any], arguments: Mapping[str, Any], kind: str) -> Dataset[Any, Any]:
    """``load_problem`` for problem ``problem`` whose function is ``fn``."""
    call = dict(arguments)
    if takes_keyword(fn, "progress"):
        call["progress"] = Progress(problem)
    root = cache_root() if kind == "setting" else None
    if root is None:
        result: Dataset[Any, Any] = fn(**call)
        return result
    setting = setting_of(problem, fn, arguments)
    folder = root / problem / setting_key(setting)
    cached = read(folder)
    if cached is not None:
        return cached
    start = time.perf_counter()
    data: Dataset[Any, Any] = fn(**call)
    if isinstance(data, Dataset):  # anything else is refused by the caller, as for any problem
        write(folder, setting, data, time.perf_counter() - start)
    return data
