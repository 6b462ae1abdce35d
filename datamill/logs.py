"""The one logging setup of every datamill command (``datamill …``, ``python -m datamill.train``).

``-v`` is about datamill: it lowers datamill's own loggers to DEBUG. Other libraries (Dask,
tornado, asyncio, fsspec, transformers) show warnings and errors only, with or without ``-v``:
their debug output buries datamill's (hundreds of ``distributed.core`` lines for a small run).
Dask's own logging stays configurable the Dask way (its ``logging:`` config) on the workers.
"""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _is_datamill(record: logging.LogRecord) -> bool:
    return record.name == "datamill" or record.name.startswith("datamill.")


class _OursOrWarnings(logging.Filter):
    """Datamill's records at any level, everyone else's from WARNING up. A filter on the handler,
    not logger levels alone: distributed sets its loggers to INFO whenever it is imported, which
    may be after this setup ran."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or _is_datamill(record)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (as ``logging.lastResort`` does), so
    a setup done once still reaches a stderr replaced later (pytest's capture, a redirect)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logging(verbose: bool = False) -> None:
    """Configure the root handler (once; calling again only changes the levels). Under torchrun
    only rank 0 logs below WARNING: eight ranks would print every line eight times."""
    root = logging.getLogger()
    if not any(isinstance(h, _Stderr) for h in root.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        handler.addFilter(_OursOrWarnings())
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    level = logging.DEBUG if verbose else logging.INFO
    logging.getLogger("datamill").setLevel(level if os.environ.get("RANK", "0") == "0" else logging.WARNING)
    # distributed, when already imported, has its own stderr handler (it adds one when the root
    # has none): its records would bypass the filter above
    if "distributed" in sys.modules:
        logging.getLogger("distributed").setLevel(logging.WARNING)
