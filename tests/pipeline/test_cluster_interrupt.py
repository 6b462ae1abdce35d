"""Ctrl-C while the driver waits on the cluster: the cluster closes without the libraries'
tracebacks (the CLI prints its resume hint alone), and their loggers are as before afterwards.

The interrupt is placed where it made `datamill run`'s Ctrl-C test flaky: after distributed's
``sync`` queued its coroutine and before the coroutine started. ``sync`` then queues a ``cancel``
callback that reads a variable not yet bound, and tornado logs the NameError's traceback while
the client closes."""

import _thread
import logging
import signal
import sys
import time

import pytest

from datamill.logs import setup_logging
from datamill.pipeline.clusters import dask_client


def _sync_wait_frame(thread_id: int):
    """The frame of distributed's ``sync`` waiting in that thread, or None."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename.endswith("distributed/utils.py"):
            return frame
        frame = frame.f_back
    return None


def _interrupt_main_inside_sync(main_id: int) -> None:
    """Runs on the cluster's event loop, so the coroutine ``sync`` queued cannot start yet."""
    deadline = time.time() + 30
    while (waiting := _sync_wait_frame(main_id)) is None and time.time() < deadline:
        time.sleep(0.01)
    signal.pthread_kill(main_id, signal.SIGINT)  # Ctrl-C; interrupt_main() would not wake the wait
    # until that wait has queued its cancel callback and raised (the teardown's own waits follow)
    while _sync_wait_frame(main_id) is waiting and time.time() < deadline:
        time.sleep(0.01)


def _levels() -> dict[str, int]:
    return {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
            if isinstance(logger, logging.Logger) and name.split(".")[0] in ("distributed", "tornado", "asyncio")}


def test_ctrl_c_inside_a_cluster_call_closes_it_without_library_tracebacks(capsys):
    setup_logging()
    with pytest.raises(KeyboardInterrupt):
        with dask_client(workers=1) as c:
            before = _levels()
            c.loop.add_callback(_interrupt_main_inside_sync, _thread.get_ident())
            c.submit(sum, [1, 2]).result()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "NameError" not in err, err
    after = _levels()
    assert {n: after[n] for n in before} == before
    assert logging.CRITICAL + 1 not in after.values()
    # the loggers report again once the cluster is closed
    logging.getLogger("tornado.application").error("after the teardown")
    assert "after the teardown" in capsys.readouterr().err
