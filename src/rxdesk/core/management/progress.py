"""A text progress bar for long CLI commands (imports): one line on stderr, redrawn with a
carriage return, no dependency."""

from __future__ import annotations

import time
from typing import Any, TextIO, cast


class ProgressBar:
    """Call with ``(done, total)``; it redraws at most a few times a second.

    ``[##########..........]  50%  186,100 / 372,201 rows  9,850 rows/s``"""

    def __init__(self, stream: TextIO, *, label: str = "", width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self.started = time.perf_counter()
        self._drawn_at = 0.0
        self._drawn = False
        self._last: tuple[int, int] | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if (done, total) == self._last or (done < total and now - self._drawn_at < 0.2):
            return
        self._drawn_at = now
        self._last = (done, total)
        self.stream.write("\r" + self.line(done, total, now - self.started))
        self.stream.flush()
        self._drawn = True

    def line(self, done: int, total: int, seconds: float) -> str:
        share = done / total if total else 1.0
        filled = round(self.width * share)
        rate = done / seconds if seconds > 0 else 0.0
        bar = "#" * filled + "." * (self.width - filled)
        label = f"{self.label} " if self.label else ""
        return f"{label}[{bar}] {share:4.0%}  {done:,} / {total:,} rows  {rate:,.0f} rows/s"

    def close(self) -> None:
        """End the bar's line (so that what follows starts on a new one)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def raw(output: Any) -> TextIO:
    """The stream under a command's ``self.stderr`` (whose ``write`` ends every message with
    a newline, which a bar redrawn in place must not)."""
    return cast(TextIO, getattr(output, "_out", output))
