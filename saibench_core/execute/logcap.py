"""A pod's log, capped: the runner keeps the last ``TAIL_BYTES`` of what the pod wrote and a
count of the rest, so its memory stays flat however much a run prints (500 MB of stdout
once took the runner to 1.37 GB), and the tail it stores is a few dozen short lines.

The pod's stdout and stderr are one pipe whose reader is the runner (nothing is written to
disk, so a chatty run cannot fill it either); ``LogTail.feed`` takes each chunk read.
"""

from __future__ import annotations

TAIL_BYTES = 64 * 1024
TAIL_LINES = 20
LINE_CHARS = 2_000


class LogTail:
    """The last ``max_bytes`` of a byte stream, and how many bytes came before them."""

    def __init__(self, max_bytes: int = TAIL_BYTES) -> None:
        self.max_bytes = max_bytes
        self.total = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Append ``data``, dropping the oldest bytes beyond ``max_bytes``."""
        self.total += len(data)
        self._buffer += data[-self.max_bytes:]
        if len(self._buffer) > 2 * self.max_bytes:  # trimmed in batches: amortized O(1) a byte
            del self._buffer[:-self.max_bytes]

    @property
    def dropped(self) -> int:
        """Bytes written before the kept tail."""
        return self.total - min(len(self._buffer), self.max_bytes)

    def text(self, lines: int = TAIL_LINES, line_chars: int = LINE_CHARS) -> str:
        """The last ``lines`` lines, each cut to ``line_chars`` characters, marked where
        anything was left out."""
        kept = bytes(self._buffer[-self.max_bytes:]).decode(errors="replace").splitlines()
        out = [line if len(line) <= line_chars else f"{line[:line_chars]} [... line cut: {len(line) - line_chars:,} more characters]"
               for line in kept[-lines:]]
        if self.dropped:
            out.insert(0, f"[... {self.dropped:,} earlier bytes of output not kept]")
        return "\n".join(out)


def cap(text: str, limit: int = LINE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, marked if it was longer (for reasons and
    tracebacks, whose messages a run controls)."""
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit:,} more characters]"
