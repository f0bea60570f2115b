"""A live progress line on stderr (a plain line per step when stderr is not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.began = time.monotonic()

    def start(self, label: str) -> None:
        if self.live:
            self._draw(f"{label}: starting")
        else:
            self.stream.write(f"[{self._clock()}] {label}\n")
            self.stream.flush()

    def tick(self, label: str, elapsed: float, total: float, done: int) -> None:
        if self.live:
            self._draw(f"{label}: {elapsed:4.1f}/{total:.1f} s, {done:,} done")

    def note(self, text: str) -> None:
        self.clear()
        self.stream.write(f"[{self._clock()}] {text}\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K[{self._clock()}] {text}")
        self.stream.flush()

    def _clock(self) -> str:
        return f"{time.monotonic() - self.began:5.1f}s"
