"""A request cache, so a re-run or a crash never pays for a finished request again.

One SQLite file (WAL journal) keyed by a hash of (model, messages, sampling parameters).
Each finished request is committed on its own, as soon as it finishes: a crash loses at most
the requests in flight, and concurrent workers (threads or processes on one machine) share the
file under SQLite's locking. Only successful completions are stored: a failed request is tried
again on the next run. The file must be on a local filesystem (SQLite locking over NFS/S3 is
unreliable); point ``cache_path`` elsewhere for such run dirs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from datamill.synth.backend_types import Backend, ChatRequest, ChatResult

_SCHEMA = """CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY, model TEXT, text TEXT, prompt_tokens INTEGER,
    completion_tokens INTEGER, created REAL)"""


_LOCK_TIMEOUT_S = 120


def _set_up(conn: sqlite3.Connection) -> None:
    """WAL journal and the table, retried while another connection holds the lock: switching a
    fresh file to WAL needs an exclusive lock, and SQLite reports "database is locked" at once
    (without waiting on its busy timeout) when several workers open a new cache together."""
    deadline = time.monotonic() + _LOCK_TIMEOUT_S
    delay = 0.01
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes


def request_key(model: str, request: ChatRequest) -> str:
    blob = json.dumps({"model": model, "messages": request.messages, "max_tokens": request.max_tokens,
                       "temperature": request.temperature, "top_p": request.top_p,
                       "seed": request.seed, "json_mode": request.json_mode,
                       "json_schema": request.json_schema},
                      sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class RequestCache:
    """Thread-safe: one connection per (process, thread)."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=_LOCK_TIMEOUT_S, isolation_level=None)  # autocommit
            _set_up(conn)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def get_many(self, keys: list[str]) -> dict[str, ChatResult]:
        found: dict[str, ChatResult] = {}
        conn = self._conn()
        for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            chunk = keys[start:start + 500]
            rows = conn.execute(
                f"SELECT key, text, prompt_tokens, completion_tokens FROM completions "
                f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, text, p, c in rows:
                found[key] = ChatResult(text, prompt_tokens=p, completion_tokens=c, cached=True)
        return found

    def put(self, key: str, model: str, result: ChatResult) -> None:
        if result.text is None:
            return
        self._conn().execute("INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?)",
                             (key, model, result.text, result.prompt_tokens, result.completion_tokens,
                              time.time()))

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM completions").fetchone()[0]


@dataclass
class LLMStats:
    """Counters for one partition's requests; merged by summing (see ``merge``)."""

    requests: int = 0  # sent to the backend (cache misses)
    cache_hits: int = 0
    retries: int = 0  # extra HTTP tries after 429/5xx/timeouts
    failed_requests: int = 0  # gave up after all retries
    prompt_tokens: int = 0  # of the requests sent (what this run paid for)
    completion_tokens: int = 0
    cached_completion_tokens: int = 0
    generation_seconds: float = 0.0  # wall time inside backend.generate
    errors: list[str] = field(default_factory=list)  # a sample of request errors

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def generate_cached(backend: Backend, cache: RequestCache | None, model: str,
                    requests: list[ChatRequest], stats: LLMStats, max_error_samples: int = 5) -> list[ChatResult]:
    """``backend.generate`` for the requests the cache does not hold; each new success is
    written to the cache the moment it arrives."""
    keys = [request_key(model, r) for r in requests]
    results: list[ChatResult | None] = [None] * len(requests)
    if cache is not None:
        hits = cache.get_many(sorted(set(keys)))
        for i, k in enumerate(keys):
            if k in hits:
                results[i] = hits[k]
                stats.cache_hits += 1
                stats.cached_completion_tokens += hits[k].completion_tokens
    # Identical requests (same seed) are sent once.
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        if results[i] is None:
            first.setdefault(k, i)
    todo = list(first.values())
    if not todo:
        return results  # type: ignore[return-value]

    def on_result(j: int, result: ChatResult) -> None:
        if cache is not None:
            cache.put(keys[todo[j]], model, result)

    start = time.perf_counter()
    new = backend.generate([requests[i] for i in todo], on_result=on_result)
    stats.generation_seconds += time.perf_counter() - start
    for i, result in zip(todo, new):
        stats.requests += 1
        stats.retries += result.attempts - 1
        stats.prompt_tokens += result.prompt_tokens
        stats.completion_tokens += result.completion_tokens
        if result.text is None:
            stats.failed_requests += 1
            if len(stats.errors) < max_error_samples:
                stats.errors.append(result.error or "unknown error")
    by_key = {keys[i]: r for i, r in zip(todo, new)}
    return [r if r is not None else by_key[k] for r, k in zip(results, keys)]


def resolve_cache_path(cache_path: str, stage_dir: str, stage: str = "entigraph") -> str:
    """A relative ``cache_path`` is relative to the run dir (the stage dir's parent)."""
    if not cache_path or os.path.isabs(cache_path):
        return cache_path
    run_dir = os.path.dirname(stage_dir.removeprefix("file://").rstrip("/"))
    if "://" in run_dir:
        raise ValueError(f"stage {stage}: cache_path {cache_path!r} is relative to a remote run dir "
                         f"({run_dir}); SQLite needs a local path: set an absolute cache_path")
    return os.path.join(run_dir, cache_path)


def merge_stats(parts: list[dict]) -> dict:
    """Sum counters, concatenate samples (capped); accepts its own outputs (tree reduce)."""
    total: Counter = Counter()
    lists: dict[str, list] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list):
                lists.setdefault(key, []).extend(value)
            else:
                total[key] += value
    out = dict(total)
    out.update({key: value[:20] for key, value in lists.items()})
    return out
