"""Peak memory and CPU of a benchmark run (this process and its children); psutil only, so the
datatrove benchmark can use it from its own venv."""

from __future__ import annotations

import threading
import time

import psutil


class PeakRSS:
    """Peak summed RSS of this process and its children (the Dask worker processes), and the
    CPU seconds they used (last sample per process: on a shared machine CPU time, not wall
    time, says what the run costs)."""

    def __init__(self, interval: float = 0.2):
        self.peak, self.interval, self._stop = 0, interval, threading.Event()
        self.cpu: dict[int, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
