"""A progress bar on stderr for long imports: rich when installed, else a plain text line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Progress:
    """One bar per phase (`with bar.phase(label, total): ... bar.advance()`); silent when off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._rich: Any = None  # rich.progress.Progress while a phase shows it
        self._task: Any = None
        self._total = 0
        self._done = 0
        self._label = ""

    @contextmanager
    def phase(self, label: str, total: int) -> Iterator[None]:
        self.start(label, total)
        try:
            yield
        finally:
            self.stop()

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        if not self.enabled or total == 0:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress
        except ImportError:
            self._rich = None
            self._text()
            return
        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._rich.start()
        self._task = self._rich.add_task(label, total=total)

    def advance(self) -> None:
        self._done += 1
        if not self.enabled or self._total == 0:
            return
        if self._rich is not None:
            self._rich.advance(self._task)
        elif self._done == self._total or self._done % max(1, self._total // 100) == 0:
            self._text()

    def _text(self) -> None:
        end = "\n" if self._done >= self._total else ""
        sys.stderr.write(f"\r{self._label} {self._done}/{self._total}{end}")
        sys.stderr.flush()

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
