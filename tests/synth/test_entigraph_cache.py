import multiprocessing
import sqlite3
import threading

import pytest

from datamill.synth.backend_types import ChatRequest, ChatResult
from datamill.synth.cache import LLMStats, RequestCache, generate_cached, request_key


def req(i: int, **kw) -> ChatRequest:
    return ChatRequest.of([{"role": "user", "content": f"question {i}"}], max_tokens=8, **kw)


class EchoBackend:
    """Answers in order; optionally dies (like a killed worker) after ``die_after`` results."""

    def __init__(self, die_after: int | None = None):
        self.die_after = die_after
        self.calls: list[ChatRequest] = []

    def generate(self, requests, on_result=None):
        out = []
        for i, r in enumerate(requests):
            if self.die_after is not None and len(self.calls) == self.die_after:
                raise RuntimeError("worker killed")
            self.calls.append(r)
            result = ChatResult(f"answer to {r.messages[0][1]}", prompt_tokens=3, completion_tokens=2)
            out.append(result)
            if on_result:
                on_result(i, result)
        return out


def test_key_covers_model_prompt_and_sampling():
    base = request_key("m", req(1))
    assert base == request_key("m", req(1))
    assert len({base, request_key("m2", req(1)), request_key("m", req(2)), request_key("m", req(1, seed=1)),
                request_key("m", req(1, temperature=0.5)), request_key("m", req(1, json_mode=True))}) == 6


def test_a_crash_keeps_finished_requests(tmp_path):
    cache = RequestCache(str(tmp_path / "c.sqlite"))
    requests = [req(i) for i in range(6)]
    with pytest.raises(RuntimeError):
        generate_cached(EchoBackend(die_after=4), cache, "m", requests, LLMStats())
    assert len(cache) == 4  # each result was committed as it arrived
    backend, stats = EchoBackend(), LLMStats()
    results = generate_cached(backend, RequestCache(str(tmp_path / "c.sqlite")), "m", requests, stats)
    assert [r.messages[0][1] for r in backend.calls] == ["question 4", "question 5"]
    assert stats.cache_hits == 4 and stats.requests == 2 and stats.completion_tokens == 4
    assert [r.text for r in results] == [f"answer to question {i}" for i in range(6)]
    assert [r.cached for r in results] == [True] * 4 + [False] * 2


def test_failures_are_not_cached_and_duplicates_sent_once(tmp_path):
    class Flaky(EchoBackend):
        def generate(self, requests, on_result=None):
            self.calls += requests
            out = [ChatResult(None, error="HTTP 500", attempts=3) for _ in requests]
            for i, r in enumerate(out):
                on_result(i, r)
            return out

    cache, stats = RequestCache(str(tmp_path / "c.sqlite")), LLMStats()
    results = generate_cached(Flaky(), cache, "m", [req(1), req(1), req(2)], stats)
    assert len(cache) == 0 and all(r.text is None for r in results)
    assert stats.requests == 2 and stats.failed_requests == 2 and stats.retries == 4
    assert stats.errors == ["HTTP 500", "HTTP 500"]


def _writer(path: str, start: int) -> None:
    generate_cached(EchoBackend(), RequestCache(path), "m", [req(i) for i in range(start, start + 50)], LLMStats())


def test_concurrent_processes_share_one_cache(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, k * 25)) for k in range(3)]  # overlapping key ranges
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    cache = RequestCache(path)
    assert len(cache) == 100
    hits = cache.get_many([request_key("m", req(i)) for i in range(100)])
    assert hits[request_key("m", req(99))].text == "answer to question 99"


def test_many_workers_opening_a_new_cache_together_never_see_a_lock_error(tmp_path):
    # Switching a fresh file to WAL takes an exclusive lock that SQLite does not wait for: before
    # the retry in cache._set_up, about 1 in 30 of these rounds raised "database is locked".
    errors = []
    for round_ in range(60):
        path = str(tmp_path / f"fresh-{round_}.sqlite")
        start = threading.Barrier(8)

        def open_and_read():
            cache = RequestCache(path)
            start.wait()
            try:
                cache.get_many(["absent"])
            except sqlite3.OperationalError as e:
                errors.append(e)

        threads = [threading.Thread(target=open_and_read) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
