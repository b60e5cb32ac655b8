"""The report's plots, each one small function from the report's material to figures.

A plot kind is a function ``Material -> Iterable[Figure]`` listed in ``kinds.PLOTS``; the page
(``report.html``) places each figure in the section of its ``(ranking, problem)``, so a new
kind is one function and one line there (``order_plots`` holds Pareto fronts and
performance profiles).
Figures are matplotlib's, drawn without pyplot (no global state, no display) and kept as
inline SVG with text as text (``svg.fonttype: none``) and a fixed hash salt and no date, so
the same database gives the same bytes. matplotlib is imported only here, and only when a
report is made: ``pip install 'saibench[report]'``.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..errors import MissingExtra
from ..rank import Curve, Entry, Leaderboard, hyper_items, number
from ..rank.repetitions import configuration
from ..rank.uncertainty import LEVEL, interval
from ..rank.values import median
from ..results import Record

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.typing import RcKeyType

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none", "svg.hashsalt": "saibench", "font.size": 9.0, "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False}
WIDTH, HEIGHT, ROW = 7.0, 3.6, 0.17  # inches: the axes, and each line of the legend below them
TRAIN_TIME = "train_time"  # the stored metric of training seconds, where a run has it
SERIES = (("validation_accuracy", "validation accuracy"), ("validation_loss", "validation loss"),
          ("epoch_losses", "training loss"))  # per-epoch lists a run's details may hold, as the pod stores them


@attrs.frozen
class Material:
    """What the plots are drawn from: the leaderboards (``rank``), every stored run, and the
    sample-efficiency curves (``sample_efficiency``). ``colours``: one per configuration,
    the same in every figure (matplotlib's ten, in the order of the configurations' keys)."""

    boards: tuple[Leaderboard, ...]
    records: tuple[Record, ...]
    curves: tuple[Curve, ...] = ()
    colours: dict[str, str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        keys = sorted({configuration(e.run) for b in self.boards for e in b.entries})
        object.__setattr__(self, "colours", {k: f"C{i % 10}" for i, k in enumerate(keys)})

    def colour(self, entry: Entry) -> str:
        """The colour of ``entry``'s configuration."""
        return self.colours.get(configuration(entry.run), "grey")


@attrs.frozen
class Figure:
    """One plot as inline SVG, for the section of its ranking and problem (either may be
    empty: a plot over every problem of a ranking, or of a problem under no ranking)."""

    title: str
    svg: str
    ranking: str = ""
    problem: str = ""


Plot = Callable[[Material], Iterable[Figure]]


def require() -> None:
    """Raises ``MissingExtra`` when matplotlib is not installed (before any work is done)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtra("the HTML report", "matplotlib", "report") from None


def text(s: str) -> str:
    """``s`` as matplotlib shows it verbatim: a ``$`` in a module name starts no formula."""
    return s.replace("$", r"\$")


def _axes(title: str, xlabel: str, ylabel: str, lines: int) -> tuple[MplFigure, Axes]:
    """A figure with room for a legend of ``lines`` entries below its axes."""
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(WIDTH, HEIGHT + ROW * lines), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(text(title))
    ax.set_xlabel(text(xlabel))
    ax.set_ylabel(text(ylabel))
    return fig, ax


def _legend(fig: MplFigure, handles: Sequence[Any], labels: Sequence[str]) -> None:
    # labels given apart from the artists: matplotlib hides an artist's label that starts
    # with "_", and a module's name may
    fig.legend(handles, [text(s) for s in labels], loc="outside lower center", fontsize=7.5, frameon=False)


def svg(fig: MplFigure) -> str:
    """``fig`` as an ``<svg>`` element (no XML prolog, doctype or metadata, which name URLs)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg"):], count=1, flags=re.S)


def labels(entries: Sequence[Entry]) -> list[str]:
    """A legend label per configuration: its model column, trainer, and the hyperparameters
    that tell it from the others shown with it."""
    items = [hyper_items(e.run) if not e.reference else [] for e in entries]
    common = set.intersection(*map(set, items)) if items else set()
    return [e.label if e.reference else " ".join([f"{e.label} by {e.run.trainer}", *(i for i in row if i not in common)])
            for e, row in zip(entries, items)]


def by_problem(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    """``entries`` by problem, in their order."""
    out: dict[str, list[Entry]] = {}
    for e in entries:
        out.setdefault(e.run.problem, []).append(e)
    return out


def _bar(value: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """The error bar below and above ``value`` (none where the interval is not measured)."""
    low, high = bounds
    return (value - low, high - value) if math.isfinite(low) and math.isfinite(high) else (0.0, 0.0)


def training_time(entry: Entry, wall: bool) -> tuple[float, tuple[float, float]]:
    """An entry's median training seconds with its interval: the stored ``train_time``
    metric, or (``wall``) the runs' wall seconds."""
    if not wall:
        return entry.metrics.get(TRAIN_TIME, math.nan), entry.intervals.get(TRAIN_TIME, (math.nan, math.nan))
    seconds = [r.wall_seconds for r in entry.records]
    return median(seconds), interval(seconds)


def _points(entries: Sequence[Entry], metric: str, wall: bool) -> list[tuple[Entry, str, tuple[float, tuple[float, float]]]]:
    """Each configuration with its label and training time, where it and ``metric`` are finite."""
    shown = [(e, label, training_time(e, wall)) for e, label in zip(entries, labels(entries))]
    return [(e, label, t) for e, label, t in shown if math.isfinite(t[0]) and math.isfinite(e.metrics.get(metric, math.nan))]


def work_precision(material: Material) -> Iterator[Figure]:
    """Per ranking and problem: its first metric against training time, a point per
    configuration at the medians, with the 95 % intervals as error bars."""
    for board in material.boards:
        metric = board.ranking.spec.metrics[0]
        for problem, entries in by_problem(board.entries).items():
            wall = not all(math.isfinite(e.metrics.get(TRAIN_TIME, math.nan)) for e in entries)
            shown = _points(entries, metric, wall)
            if not shown:
                continue
            title = f"work-precision on {problem}: {metric} against training time\nmedians, error bars: {LEVEL:.0%} bootstrap intervals"
            source = "the runs' wall time" if wall else f"stored metric {TRAIN_TIME}"
            fig, ax = _axes(title, f"training time (s): {source}", metric, len(shown))
            handles = []
            for e, _, (seconds, bounds) in shown:
                y = e.metrics[metric]
                bar_x, bar_y = _bar(seconds, bounds), _bar(y, e.intervals.get(metric, (math.nan, math.nan)))
                handles.append(ax.errorbar([seconds], [y], xerr=[[bar_x[0]], [bar_x[1]]], yerr=[[bar_y[0]], [bar_y[1]]],
                                           fmt="o", capsize=3, markersize=5, color=material.colour(e)))
            times = [t for _, _, (t, _) in shown]
            if min(times) > 0 and max(times) / min(times) > 20:
                ax.set_xscale("log")
            _legend(fig, handles, [label for _, label, _ in shown])
            yield Figure(title, svg(fig), board.ranking.name, problem)


def _series(rec: Record, key: str) -> list[float]:
    """A per-epoch series of a run's details, if it stored one of numbers."""
    values = rec.details.get(key)
    if isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return []


def _per_epoch(series: Sequence[Sequence[float]]) -> list[float]:
    """The median at each epoch over the repetitions that reached it."""
    longest = max(map(len, series))
    return [statistics.median(s[i] for s in series if len(s) > i) for i in range(longest)]


def _configurations(boards: Iterable[Leaderboard]) -> dict[str, list[Entry]]:
    """Every configuration on the boards once (a run is on each ranking's board), by problem."""
    seen: dict[str, Entry] = {}
    for board in boards:
        for e in board.entries:
            seen.setdefault(configuration(e.run), e)
    return by_problem(seen.values())


def learning_curves(material: Material) -> Iterator[Figure]:
    """Per problem, each per-epoch series the runs stored (validation accuracy and loss, the
    training loss): a line per configuration, the median over its ok repetitions."""
    for problem, entries in _configurations(material.boards).items():
        for key, name in SERIES:
            lines = []
            for e in entries:
                series = [found for r in e.records if (found := _series(r, key))]
                if series:
                    lines.append((e, _per_epoch(series)))
            if not lines:
                continue
            title = f"learning curves on {problem}: {name} per epoch, median over repetitions"
            fig, ax = _axes(title, "epoch", name, len(lines))
            handles = [ax.plot(range(1, len(ys) + 1), ys, linewidth=1.2, color=material.colour(e))[0] for e, ys in lines]
            _legend(fig, handles, labels([e for e, _ in lines]))
            yield Figure(title, svg(fig), "", problem)


def sample_efficiency(material: Material) -> Iterator[Figure]:
    """Per ranking and problem with a label budget: each configuration's score against the
    fraction of labelled training data (``rank.efficiency``), the reference dashed."""
    groups: dict[tuple[str, str], list[Curve]] = {}
    for c in material.curves:
        groups.setdefault((c.ranking, c.problem), []).append(c)
    for (ranking, problem), curves in groups.items():
        title = f"sample efficiency on {problem}: ranking {ranking}'s score against labelled data"
        fig, ax = _axes(title, f"{curves[0].budget} (fraction of the labelled training data, log scale)", f"{ranking} score",
                        len(curves))
        handles = [ax.plot([b for b, _ in c.points], [s for _, s in c.points], "--" if c.reference else "-o",
                           color="grey" if c.reference else None, markersize=4)[0] for c in curves]
        ax.set_xscale("log", base=2)
        names = [f"{c.label}{' by ' + c.trainer if c.trainer else ''} (area {number(c.area, 3)})" for c in curves]
        _legend(fig, handles, names)
        yield Figure(title, svg(fig), ranking, problem)


def figures(material: Material, plots: Sequence[Plot]) -> list[Figure]:
    """Every figure of ``plots`` over ``material``, in the style above."""
    require()
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return [figure for plot in plots for figure in plot(material)]
