"""Several drivers on one Dask cluster (what ``--scheduler`` invites): Dask merges tasks that
share a key, so a run's task keys must never match another run's unless the work is the same
*and* writes to the same place."""

from __future__ import annotations

import itertools
import threading
import time

from datamill import partitions
from datamill.partitions import Partitions
from datamill.pipeline.runner import run_pipeline
from tests.reliability.figures import record
from tests.reliability.runs import data_files, docs_config


class Scale:
    """Two configs of one stage: the same method name, different results."""

    def __init__(self, factor: float, delay: float = 0.0):
        self.factor, self.delay = factor, delay

    def apply(self, x):
        time.sleep(self.delay)
        return x * self.factor


def test_global_stage_tasks_of_two_drivers_never_merge(client, monkeypatch):
    from distributed import Client

    monkeypatch.setattr(partitions, "_counter", itertools.count())  # a fresh driver process
    first = Partitions(client, client.scatter([1, 2, 3])).map(Scale(10, delay=1.0).apply)
    monkeypatch.setattr(partitions, "_counter", itertools.count())  # a second one, counting from 0 too
    with Client(client.scheduler.address, set_as_default=False) as other:
        second = Partitions(other, other.scatter([1, 2, 3])).map(Scale(-1).apply)
        assert second.gather() == [-1, -2, -3]
    assert first.gather() == [10, 20, 30]


MAP_CHAIN = [{"use": "clean_text"}, {"use": "length_filter", "min_words": 20}]


def test_same_config_into_two_run_dirs_at_once_writes_both(client, tmp_path):
    """Equal configs give equal cache keys; the second run's tasks must still write its own dir."""
    reference = run_pipeline(docs_config(tmp_path / "ref", 20, MAP_CHAIN), client=client, progress=False)
    done = {}
    first = threading.Thread(target=lambda: done.setdefault(
        "a", run_pipeline(docs_config(tmp_path / "a", 20, MAP_CHAIN), client=client, progress=False)))
    first.start()
    deadline = time.time() + 60
    while not list((tmp_path / "a" / "docs").glob("part-*.parquet")) and time.time() < deadline:
        time.sleep(0.01)  # start the second run while the first one's read tasks are in flight
    in_flight = 46 - len(list((tmp_path / "a" / "length_filter").glob(".datamill/stats/part-*.json")))
    done["b"] = run_pipeline(docs_config(tmp_path / "b", 20, MAP_CHAIN), client=client, progress=False)
    first.join(timeout=120)
    record("concurrent_runs_on_one_cluster", 2)
    assert data_files(tmp_path / "a") == data_files(tmp_path / "ref")
    assert data_files(tmp_path / "b") == data_files(tmp_path / "ref")
    assert done["b"].stats["length_filter"]["rows_out"] == reference.stats["length_filter"]["rows_out"]
    assert in_flight >= 20, "the first run was nearly done before the second started; the test proves little"
