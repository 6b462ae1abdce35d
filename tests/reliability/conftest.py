"""The reliability tests' figures file (the multi-process cluster is ``tests/proc_cluster.py``)."""

from __future__ import annotations

import pytest

from tests.reliability import figures


@pytest.fixture(scope="session", autouse=True)
def _write_figures():
    yield
    figures.write()
