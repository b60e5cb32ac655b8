"""Terminal output that text from plugins, runs or a results database cannot take over.

Module names, failure reasons, log tails and stored records are printed by every command;
any of them may carry terminal escape sequences (``\\x1b]52;`` writes the clipboard,
``\\x1b[2J`` clears the screen, ``\\x1b[8m`` hides what follows) or bidirectional controls
that reorder what a reader sees (CVE-2021-42574, "Trojan Source"). ``escape`` shows each such
character as its Python escape instead, and ``SafeConsole`` applies it to everything a rich
console prints, so no command has to remember to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

# C0 (newline kept: it is how multi-line reasons are laid out), DEL and C1 controls, line and
# paragraph separators, and the bidirectional embeddings, overrides, isolates and marks
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _escaped(match: re.Match[str]) -> str:
    return match[0].encode("unicode_escape").decode("ascii")


def escape(text: str) -> str:
    r"""``text`` with every control character written as its Python escape.

    >>> escape("mlp\x1b[2J\u202e")
    'mlp\\x1b[2J\\u202e'
    """
    return _UNSAFE.sub(_escaped, text)


def is_safe(text: str) -> bool:
    """Whether ``text`` prints as it reads (no character ``escape`` would rewrite)."""
    return _UNSAFE.search(text) is None


def _escaped_text(text: Text) -> Text:
    """A copy of ``text`` escaped piece by piece, so each styled span keeps its style."""
    if is_safe(text.plain):
        return text
    pieces = text.divide(sorted({offset for span in text.spans for offset in (span.start, span.end)}))
    out = Text(style=text.style, justify=text.justify, overflow=text.overflow, no_wrap=text.no_wrap, end=text.end)
    for piece in pieces:
        shown = Text(escape(piece.plain))
        for span in piece.spans:  # divided at every span boundary: each span covers its piece
            shown.stylize(span.style)
        out.append_text(shown)
    return out


def _escaped_tree(renderable: Any) -> Any:
    """``renderable`` with the ``Text`` in it (table cells, titles, group members) escaped
    ahead of layout: a ``Text`` measures itself, so escaping it only when it is rendered
    would size its table column on the unescaped text and cut the escaped one."""
    if isinstance(renderable, Text):
        return _escaped_text(renderable)
    if isinstance(renderable, Table):
        renderable.title, renderable.caption = _escaped_tree(renderable.title), _escaped_tree(renderable.caption)
        for column in renderable.columns:
            column.header, column.footer = _escaped_tree(column.header), _escaped_tree(column.footer)
            column._cells[:] = map(_escaped_tree, column._cells)  # rich keeps a column's cells private
    elif isinstance(renderable, Group):
        renderable.renderables[:] = map(_escaped_tree, renderable.renderables)
    return renderable


class SafeConsole(Console):
    """A rich ``Console`` that escapes control characters in whatever it prints.

    Strings and the ``Text`` in tables and groups are escaped before layout (so tables are
    sized on what is shown), other ``Text`` when rendered, and the text segments of every
    other renderable as a last resort; the console's own control segments (a progress
    bar's cursor moves) pass unchanged.
    Emoji codes are off too: ``root:x:0`` in a reason stays text.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(emoji=False, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """See ``rich.console.Console.print``; tables and groups are escaped before layout."""
        super().print(*map(_escaped_tree, objects), **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:  # type: ignore[override, unused-ignore]
        """See ``rich.console.Console.render_str``; ``text`` is escaped first."""
        return super().render_str(escape(text), **kwargs)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        """See ``rich.console.Console.render``; ``Text`` is escaped, and so is every segment."""
        if isinstance(renderable, Text):
            renderable = _escaped_text(renderable)
        for segment in super().render(renderable, options):
            if segment.control or is_safe(segment.text):
                yield segment
            else:
                yield Segment(escape(segment.text), segment.style, segment.control)
