"""``saibench results show KEY`` (a stored run and its provenance) and ``saibench reproduce KEY``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

import saibench_core as sb

from ..rank import hyper_items, number
from ..results import Record
from ..results.export import json_safe
from ._common import err, main, out
from .results import results
from .validate import FiniteFloat

DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), help="Results database (default: user data dir).")


@results.command("show")
@click.argument("key")
@DB
@click.option("--json", "as_json", is_flag=True, help="Print the stored run as JSON (its details whole).")
def show(key: str, db: Path | None, as_json: bool) -> None:
    """Print one stored run and its provenance: KEY is its key, or a prefix only it has.

    What ran (modules, hyperparameters, seed, split), its metrics, the data's checksum, the
    environment (Python, OS, CPU, JAX backend and devices, compilation cache, every
    installed distribution) and the fingerprints of the code its key was made of.
    """
    record = sb.show(key, db=db)
    if as_json:
        click.echo(json.dumps(json_safe({"key": record.key, "run": record.run.to_json(), "status": record.status,
                                         "reason": record.reason, "metrics": record.metrics, "details": record.details,
                                         "wall_seconds": record.wall_seconds}), indent=2, allow_nan=False))
        return
    for section in _sections(record):
        out.print(section)


def _facts(title: str, rows: Mapping[str, Any]) -> Table:
    table = Table(title=Text(title), title_justify="left", box=box.SIMPLE_HEAD, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows.items():
        if value not in (None, "", [], {}):
            table.add_row(name, value if isinstance(value, str) else number(value) if isinstance(value, float) else str(value))
    return table


def _sections(record: Record) -> list[Any]:
    r, d = record.run, record.details
    env: Mapping[str, Any] = d.get("environment") or {}
    jax: Mapping[str, Any] = env.get("jax") or {}
    cpu: Mapping[str, Any] = env.get("cpu") or {}
    prints: Mapping[str, Any] = d.get("fingerprints") or {}
    timing: Mapping[str, Any] = d.get("timing") or {}
    sections: list[Any] = [
        _facts(f"run {record.key}", {
            "status": record.status + (f": {record.reason}" if record.reason else ""),
            "problem": r.problem, "model": r.started_label, "trainer": r.trainer, "platform": f"{r.software} @ {r.hardware}",
            "chain": " → ".join(d.get("chain_used") or r.chain), "hyperparameters": " ".join(hyper_items(r)),
            "seed": str(r.seed), "split": str(r.split), "wall time": f"{record.wall_seconds:.1f} s"}),
        _facts("metrics (test)", record.metrics),
        _facts("metrics (validation)", d.get("validation_metrics") or {}),
        _facts("data", {"dataset checksum": d.get("dataset_checksum") or r.dataset_checksum,
                        "declared checksum": d.get("declared_checksum"),
                        "samples": " / ".join(str(d[k]) for k in ("n_train", "n_validation", "n_test") if k in d)
                        + " (train / validation / test)" if "n_train" in d else None}),
        _facts("environment", {
            "python": " ".join(str(env[k]) for k in ("python", "implementation") if k in env), "os": env.get("os"),
            "cpu": f"{cpu['model']} ({cpu.get('usable')} of {cpu.get('logical')} usable)" if cpu else env.get("machine"),
            "memory": f"{env['memory_mib']:,} MiB" if "memory_mib" in env else None,
            "jax": f"{jax.get('version')} on {jax.get('backend')}: "
                   + ", ".join(f"{x['platform']}:{x['id']} ({x['kind']})" for x in jax.get("devices", [])) if jax else d.get("device"),
            "prng": jax.get("prng"), "compilation cache": f"{jax.get('compilation_cache')} ({timing.get('compile_cache', '?')})"
            if jax else None}),
    ]
    if dists := env.get("distributions"):
        sections.append(_facts(f"installed distributions ({len(dists)})",
                               {"": "  ".join(f"{name}=={version}" for name, version in dists.items())}))
    if prints:
        code = Table("kind", "module", "version", "function", "package", title=Text("code (fingerprints in the run's key)"),
                     title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for kind, name, version, source, package in prints.get("modules", []):
            code.add_row(kind, name, str(version), str(source)[:12], str(package)[:12])
        sections.append(code)
        sections.append(_facts("", {"engine": " ".join(f"{k}:{str(v)[:12]}" for k, v in prints.get("engine", {}).items()),
                                    "libraries": " ".join(f"{k}=={v}" for k, v in prints.get("libraries", {}).items()),
                                    "plugins loaded": " ".join(f"{n} ({dist} {v})" for n, dist, v in prints.get("plugins", []))}))
    else:
        sections.append(Text("stored before saibench recorded code fingerprints: no module hashes", style="dim"))
    return sections


@main.command()
@click.argument("key")
@DB
@click.option("--timeout", default=600.0, show_default=True, type=FiniteFloat(0, open=True), help="Seconds before the run is killed.")
@click.option("--memory-limit", type=FiniteFloat(1), metavar="MiB", help="Kill the run when its resident memory exceeds this.")
@click.option("--json", "as_json", is_flag=True, help="Print the tier and each metric's comparison as JSON.")
def reproduce(key: str, db: Path | None, timeout: float, memory_limit: float | None, as_json: bool) -> None:
    """Execute a stored run again and report the reproducibility tier that holds.

    Tiers: bitwise identical; numerically equal (within 1e-08 + 1e-05 x |stored|);
    statistically equal (inside the 95% prediction interval of the configuration's stored
    repetitions); not reproduced. Times, rates and memory are shown but decide no tier.
    Nothing is stored. Exits with status 1 when no tier holds.
    """
    done = sb.reproduce(key, db=db, timeout=timeout, memory_limit=memory_limit)
    if as_json:
        click.echo(json.dumps(json_safe({
            "key": done.record.key, "tier": done.tier, "verdict": done.verdict, "repetitions": done.repetitions,
            "reason": done.reason, "code_changed": done.code_changed,
            "metrics": [{"metric": c.metric, "stored": c.stored, "now": c.now, "tier": c.tier, "measurement": c.measurement,
                         "interval": list(c.interval) if c.interval else None} for c in done.comparisons]}), indent=2, allow_nan=False))
    else:
        table = Table("metric", "stored", "now", "tier", f"95% prediction interval ({done.repetitions} repetitions)",
                      title=Text(f"run {done.record.key[:12]}: {done.record.run.problem} × {done.record.run.started_label}"),
                      box=box.SIMPLE_HEAD, pad_edge=False)
        for c in done.comparisons:
            shown = f"measured: x{c.now / c.stored:.2f}" if c.measurement and c.stored else c.tier
            table.add_row(c.metric, number(c.stored), number(c.now), shown,
                          f"[{number(c.interval[0])}, {number(c.interval[1])}]" if c.interval else "-")
        out.print(table)
        if done.code_changed:
            err.print(f"saibench: note: the code changed since the run was stored ({done.code_changed})", style="yellow",
                      soft_wrap=True)
        if done.reason:
            err.print(f"saibench: the run failed again: {done.reason}", style="red", soft_wrap=True)
        out.print(f"reproducibility: {done.verdict}", style="bold green" if done.tier != "none" else "bold red")
    sys.exit(0 if done.tier != "none" else 1)
