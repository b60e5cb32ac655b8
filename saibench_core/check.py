"""``saibench check``: mypy (strict, with saibench's own configuration) over every plugin's modules.

SAIL signatures are ordinary annotations, so mypy checks that a model returns a layer,
that a ``Suggest`` grid holds values of the hyperparameter's type, and so on. Errors are
attributed to the module whose source lines contain them.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import attrs
import platformdirs

from .discovery import Catalog, Descriptor

_ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: (?P<message>.*)$")


@attrs.frozen
class Finding:
    """mypy's verdict on one module."""

    plugin: str
    kind: str
    module: str
    errors: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "kind": self.kind, "module": self.module, "ok": not self.errors, "errors": list(self.errors)}


@attrs.frozen
class Report:
    """Findings per module, and errors in plugin files outside any module."""

    findings: tuple[Finding, ...]
    other: tuple[str, ...]

    def failing(self) -> tuple[Finding, ...]:
        """The findings with errors (empty, hence falsy, when every module passes)."""
        return tuple(f for f in self.findings if f.errors)


def _location(desc: Descriptor) -> tuple[Path, int, int] | None:
    try:
        path = inspect.getsourcefile(desc.fn)
        lines, start = inspect.getsourcelines(desc.fn)
    except (OSError, TypeError):
        return None
    return (Path(path).resolve(), start, start + len(lines) - 1) if path else None


# saibench's own configuration, written where mypy runs: mypy otherwise reads the first
# mypy.ini, setup.cfg or pyproject.toml it finds from the working directory up (and the
# user's), so a folder could import a mypy plugin of its choosing or silence every error
_CONFIG = """\
[mypy]
strict = True
ignore_missing_imports = True
error_summary = False
show_error_context = False
pretty = False
mypy_path = {mypy_path}
"""


def _mypy_path() -> str:
    """The source root of ``sail_types`` when it is not in site-packages (an editable
    install): mypy does not follow the import hooks editable installs use, so outside the
    source tree every ``from sail_types import model`` would be a missing import and each
    decorated module "untyped". In site-packages mypy finds it by itself (it has py.typed)."""
    import sail_types

    root = Path(sail_types.__file__).resolve().parent.parent
    return "" if root.name in ("site-packages", "dist-packages") else str(root)


def _mypy(files: list[str]) -> tuple[str, str]:
    """mypy's stdout and stderr over ``files``, with saibench's configuration only.

    It runs in a fresh empty directory, since mypy also puts its working directory on the
    import path, where a folder's ``sail_types.pyi`` would stand in for the real one.
    """
    cache = Path(platformdirs.user_cache_dir("saibench")) / "mypy"
    with tempfile.TemporaryDirectory(prefix="saibench-check-") as here:
        config = Path(here) / "mypy.ini"
        config.write_text(_CONFIG.format(mypy_path=_mypy_path()))
        done = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(cache),
                               "--python-executable", sys.executable, *files],
                              cwd=here, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "MYPYPATH"})
    return done.stdout, done.stderr


def check_catalog(catalog: Catalog) -> Report:
    """Run mypy once over the source files of every module in ``catalog``."""
    located = [(desc, _location(desc)) for desc in catalog if desc.fn is not None]
    files = sorted({str(loc[0]) for _, loc in located if loc})
    if not files:
        return Report((), ())
    stdout, stderr = _mypy(files)
    errors: dict[str, list[str]] = {}
    other = [line for line in stderr.splitlines() if line.strip()]
    for line in stdout.splitlines():
        found = _ERROR.match(line)
        if not found:
            continue
        path, lineno = Path(found["path"]).resolve(), int(found["line"])
        owner = next((d for d, loc in located if loc and loc[0] == path and loc[1] <= lineno <= loc[2]), None)
        if owner is None:
            if str(path) in files:
                other.append(line)
            continue
        errors.setdefault(f"{owner.kind}:{owner.name}", []).append(f"line {lineno}: {found['message']}")
    findings = tuple(Finding(d.plugin, d.kind, d.name, tuple(errors.get(f"{d.kind}:{d.name}", ()))) for d, _ in located)
    return Report(findings, tuple(other))


def without_failures(catalog: Catalog, report: Report) -> Catalog:
    """``catalog`` less the modules that failed the check."""
    bad = {(f.kind, f.module) for f in report.failing()}
    return attrs.evolve(catalog, modules=tuple(m for m in catalog if (m.kind, m.name) not in bad))
