"""Progress per stage: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("datamill.progress")


class Progress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self._bar = None
        self._name, self._done, self._total, self._last_log = "", 0, 0, 0.0

    def start(self, name: str, total: int, already_done: int) -> None:
        self._name, self._total, self._done = name, total, already_done
        if not self.enabled:
            return
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TimeElapsedColumn

            self._bar = RichProgress("[bold]{task.description}", BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(name, total=total, completed=already_done)
        else:
            log.info("stage %s: %d partitions (%d already done)", name, total, already_done)

    def advance(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        elif self.enabled and time.monotonic() - self._last_log > 10:
            self._last_log = time.monotonic()
            log.info("stage %s: %d/%d partitions", self._name, self._done, self._total)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled:
            log.info("stage %s: done (%d partitions)", self._name, self._total)

    def skipped(self, name: str, parts: int) -> None:
        if self.enabled:
            log.info("stage %s: up to date (%d partitions), skipped", name, parts)
