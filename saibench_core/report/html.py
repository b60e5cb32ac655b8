"""The report as one HTML page: a table of contents, a section per ranking and problem
(the leaderboard as ``saibench rank`` prints it, its notes, its sample-efficiency table and
plots), sections for the plots of a problem or ranking alone, and every run's details.

Everything is inline (a small style sheet, SVG plots): the file reads offline and loads
nothing. The tables are the terminal's (``rank.table``, ``rank.efficiency_table``) read cell
by cell, so the page says what ``saibench rank`` says. Every text from plugins, runs and
databases is escaped: module names, reasons and logs may hold any characters.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from ..rank import Curve, Entry, Leaderboard, efficiency_tables, hyper_items, number
from ..rank.table import table
from ..results import Record
from .kinds import PLOTS
from .plots import Figure, Material, Plot, by_problem, figures

WIDE = 10**6  # columns: the terminal tables' layout with nothing folded
NUMBER = re.compile(r"(-?\d[\d.]*(e[-+]?\d+)?|n/a|-?∞|\[.*\])")
CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:72rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.5rem;border-bottom:1px solid #ddd}
h3{font-size:1rem}.meta,.notes,.varied{color:#555;font-size:.9rem}.notes{white-space:pre-line}
nav ol{columns:2;font-size:.9rem}table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
th{border-bottom:2px solid #bbb}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.ref td{color:#666;font-style:italic;background:#f7f7f7}figure{margin:1rem 0}
figure svg{max-width:100%;height:auto}details{margin:.3rem 0;border:1px solid #e3e3e3;border-radius:4px;padding:.3rem .6rem}
details th{border-bottom:1px solid #e3e3e3}summary{cursor:pointer}.failed>summary{color:#a40000}pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;font-size:.8rem;max-height:24rem}
"""


def esc(text: object) -> str:
    """``text`` as HTML text or attribute value: what a module or a run says is never markup."""
    return html.escape(str(text), quote=True)


def _lines(text: str) -> str:
    return "<br>".join(esc(line) for line in text.split("\n"))


def _cell(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def grid(tab: Table, marked: Sequence[bool] = ()) -> str:
    """A rich table as an HTML table, cell by cell (a ``marked`` row is a reference's)."""
    columns = [[_cell(c) for c in column.cells] for column in tab.columns]
    numeric = [all(NUMBER.fullmatch(line) or line == "-" for cell in cells for line in cell.split("\n")) for cells in columns]
    head = "".join(f"<th>{_lines(_cell(c.header))}</th>" for c in tab.columns)
    rows = []
    for i, row in enumerate(zip(*columns)):
        cells = "".join(f'<td{" class=num" * n}>{_lines(v)}</td>' for v, n in zip(row, numeric))
        rows.append(f'<tr{" class=ref" * (i < len(marked) and marked[i])}>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def leaderboard(board: Leaderboard, problem: str, entries: Sequence[Entry]) -> tuple[str, str]:
    """The heading and body of one problem's leaderboard, as ``saibench rank`` prints it."""
    tab, notes, *_ = table(board, problem, entries, WIDE).renderables
    assert isinstance(tab, Table) and isinstance(notes, Text)  # what rank.table makes
    heading, _, varied = _cell(tab.title).partition("\n")
    body = f'<p class="varied">{esc(varied)}</p>{grid(tab, [bool(e.reference) for e in entries])}'
    return heading, body + f'<p class="notes">{esc(notes.plain)}</p>'


def efficiency(curves: Sequence[Curve]) -> str:
    """The sample-efficiency table of one ranking's and problem's ``curves`` (as ``saibench
    rank`` prints it)."""
    return "".join(f"<h3>{esc(_cell(tab.title))}</h3>{grid(tab, [c.reference for c in curves])}"
                   f'<p class="notes">{esc(_cell(tab.caption))}</p>' for tab in efficiency_tables(curves))


def plots(figures: Iterable[Figure]) -> str:
    """Figures as inline SVG (matplotlib escapes the text it writes)."""
    return "".join(f'<figure aria-label="{esc(f.title)}">{f.svg}</figure>' for f in figures)


def _heading(ranking: str, problem: str) -> str:
    if ranking and problem:
        return f"ranking {ranking} on {problem}"
    return f"ranking {ranking}" if ranking else f"problem {problem}" if problem else "other plots"


def sections(material: Material, drawn: Sequence[Figure]) -> Iterator[tuple[str, str]]:
    """(heading, body) of each section but the runs': a ranking's problem by problem, then
    those of figures that belong to no leaderboard."""
    placed: dict[tuple[str, str], list[Figure]] = {}
    for f in drawn:
        placed.setdefault((f.ranking, f.problem), []).append(f)
    for board in material.boards:
        name = board.ranking.name
        if not board.rows and board.notes:
            notes = "\n".join(board.notes)
            yield f"ranking {name}", f'<p class="notes">{esc(notes)}</p>' + plots(placed.pop((name, ""), []))
        for problem, entries in by_problem(board.rows).items():
            heading, body = leaderboard(board, problem, entries)
            curves = [c for c in material.curves if (c.ranking, c.problem) == (name, problem)]
            yield heading, body + (efficiency(curves) if curves else "") + plots(placed.pop((name, problem), []))
    for (ranking, problem), rest in placed.items():
        yield _heading(ranking, problem), plots(rest)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _facts(rec: Record) -> list[tuple[str, str]]:
    """What a run's details say, as (name, text), for those it has."""
    monitor, training = (_mapping(rec.details.get(k)) for k in ("monitor", "training"))
    facts = [("key", rec.key), ("reason", rec.reason), ("wall time", f"{number(rec.wall_seconds)} s")]
    if monitor.get("samples"):
        facts.append(("CPU and memory", f"peak resident memory {number(monitor.get('peak_rss_mb', float('nan')))} MiB; CPU "
                      f"{number(monitor.get('mean_cpu_percent', float('nan')))} % mean, "
                      f"{number(monitor.get('peak_cpu_percent', float('nan')))} % peak ({monitor['samples']} samples every "
                      f"{monitor.get('interval_s', '?')} s{'; the trace below' if _mapping(monitor.get('trace')) else ''})"))
    if training:
        facts.append(("training", ", ".join(f"{k} {v}" for k, v in training.items() if v is not None)))
    return [(k, v) for k, v in facts if v]


def trace(monitor: Mapping[str, Any], width: int = 480, height: int = 120) -> str:
    """A run's CPU and memory trace (``monitor["trace"]``, sampled by the pod) as a small
    inline SVG: resident memory and CPU, each scaled to its own peak; ``""`` without one."""
    found = _mapping(monitor.get("trace"))
    seconds, rss, cpu = (list(found.get(k) or []) for k in ("seconds", "rss_mb", "cpu_percent"))
    if len(seconds) < 2 or not len(seconds) == len(rss) == len(cpu):
        return ""
    end = seconds[-1] or 1.0

    def line(values: list[float], colour: str) -> str:
        top = max(values) or 1.0
        points = " ".join(f"{x / end * width:.1f},{height - 4 - v / top * (height - 8):.1f}" for x, v in zip(seconds, values))
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'

    label = (f"memory (blue, peak {number(max(rss))} MiB) and CPU (orange, peak {number(max(cpu))} %) "
             f"over {number(end)} s")
    return (f'<figure aria-label="{esc(label)}"><svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img"><rect width="{width}" height="{height}" fill="#fafafa"/>{line(rss, "#1f77b4")}{line(cpu, "#ff7f0e")}'
            f'</svg><figcaption>{esc(label)}</figcaption></figure>')


def _metrics(rec: Record) -> str:
    validation: Mapping[str, float] = rec.details.get("validation_metrics") or {}
    if not rec.metrics:
        return ""
    rows = "".join(f"<tr><td>{esc(m)}</td><td class=num>{esc(number(v))}</td>"
                   f"<td class=num>{esc(number(validation[m])) if m in validation else '-'}</td></tr>"
                   for m, v in sorted(rec.metrics.items()))
    return f"<table><thead><tr><th>metric</th><th>test</th><th>validation</th></tr></thead><tbody>{rows}</tbody></table>"


def run_details(rec: Record) -> str:
    """One run as a collapsed ``<details>``: status, reason, facts, metrics, log tail."""
    r = rec.run
    hyper = " ".join(hyper_items(r))
    summary = (f"{rec.status}: {r.problem} × {r.started_label} by {r.trainer}{f' ({hyper})' if hyper else ''} on "
               f"{r.software} @ {r.hardware}, seed {r.seed} split {r.split}")
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _facts(rec))
    logs = "".join(f"<p>{name}</p><pre>{esc(rec.details[key])}</pre>" for key, name in
                   (("traceback", "traceback"), ("log_tail", "log tail")) if rec.details.get(key))
    return (f'<details class="{esc(rec.status)}"><summary>{esc(summary)}</summary><table>{facts}</table>'
            f"{trace(_mapping(rec.details.get('monitor')))}{_metrics(rec)}{logs or '<p class=meta>no log output</p>'}</details>")


def runs(records: Sequence[Record]) -> str:
    """Every run's details, problem by problem, in stored order."""
    problems: dict[str, list[Record]] = {}
    for rec in records:
        problems.setdefault(rec.run.problem, []).append(rec)
    shown = "".join(f"<h3>{esc(p)}</h3>" + "".join(map(run_details, rs)) for p, rs in sorted(problems.items()))
    return shown or '<p class="meta">no stored run (run some first: saibench run)</p>'


def page(material: Material, drawn: Sequence[Figure], *, source: str, generated: str) -> str:
    """The whole report: ``source`` names the database, ``generated`` the time it was made."""
    parts = [*sections(material, drawn), ("runs", runs(material.records))]
    toc = "".join(f'<li><a href="#s{i}">{esc(h)}</a></li>' for i, (h, _) in enumerate(parts))
    body = "".join(f'<section id="s{i}"><h2>{esc(h)}</h2>{b}</section>' for i, (h, b) in enumerate(parts))
    failed = sum(r.status != "ok" for r in material.records)
    meta = (f"{len(material.records)} stored runs ({len(material.records) - failed} ok, {failed} failed) from "
            f"{esc(source)}; generated {esc(generated)}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>saibench report</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f'<body><h1>saibench report</h1><p class="meta">{meta}</p><nav><h2>Contents</h2><ol>{toc}</ol></nav>'
            f"{body}</body></html>\n")


def render(material: Material, *, source: str, generated: str, kinds: Sequence[Plot] = PLOTS) -> str:
    """The report of ``material`` with the figures of every plot kind in ``kinds``.

    Raises:
        MissingExtra: matplotlib is not installed.
    """
    return page(material, figures(material, kinds), source=source, generated=generated)
