"""LLM backends behind one small interface: ``generate(requests) -> results``, in order.

- ``openai``: any OpenAI-compatible chat-completions endpoint (``vllm serve``, hosted APIs),
  with a concurrency limit, per-request timeouts and retries with exponential backoff on
  429/5xx/timeouts; the API key comes from the environment variable named in the config.
- ``vllm``: in-process ``vllm.LLM``, batched (``local_models.py``).
- ``transformers``: a local Hugging Face directory or GGUF file (``local_models.py``).

Backends are built lazily, once per worker process and config (``get_backend``), never at
import or stage construction. Heavy libraries are imported inside the constructors.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from datamill.synth.backend_types import Backend, BackendConfig, ChatRequest, ChatResult, OnResult
from datamill.synth.local_models import TransformersBackend, VLLMBackend

log = logging.getLogger(__name__)

_BACKENDS: dict[str, Backend] = {}
_BACKENDS_LOCK = threading.Lock()


def get_backend(cfg: BackendConfig) -> Backend:
    """The backend for ``cfg``, built once per process (models load once per worker)."""
    key = cfg.key()
    with _BACKENDS_LOCK:
        if key not in _BACKENDS:
            if cfg.kind == "openai":
                _BACKENDS[key] = OpenAIBackend(cfg)
            elif cfg.kind == "vllm":
                _BACKENDS[key] = VLLMBackend(cfg)
            else:
                _BACKENDS[key] = TransformersBackend(cfg)
        return _BACKENDS[key]


class OpenAIBackend:
    """Chat completions over HTTP with the official ``openai`` client (its own retries are off:
    we retry here so that attempts are counted and the backoff is configurable)."""

    def __init__(self, cfg: BackendConfig):
        import openai

        self.cfg = cfg
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        if cfg.api_key_env and not key:
            log.warning("backend: env var %s is not set; sending no API key", cfg.api_key_env)
        self.client = openai.OpenAI(base_url=cfg.base_url, api_key=key or "EMPTY",
                                    timeout=cfg.timeout_s, max_retries=0)

    def generate(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ChatResult]:
        results: list[ChatResult | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=min(self.cfg.concurrency, max(1, len(requests)))) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_result is not None:
                    on_result(i, results[i])  # on the calling thread: the cache needs no locking
        return results  # type: ignore[return-value]

    def _one(self, request: ChatRequest) -> ChatResult:
        import openai

        kwargs = dict(model=self.cfg.model, messages=request.chat(), max_tokens=request.max_tokens,
                      temperature=request.temperature, top_p=request.top_p, seed=request.seed)
        if request.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        error = ""
        for attempt in range(self.cfg.max_retries + 1):
            retry_after = None
            try:
                response = self.client.chat.completions.create(**kwargs)
                text = response.choices[0].message.content if response.choices else None
                if text is None:
                    return ChatResult(None, error="empty completion", attempts=attempt + 1)
                usage = response.usage
                return ChatResult(text,
                                  prompt_tokens=usage.prompt_tokens if usage else 0,
                                  completion_tokens=usage.completion_tokens if usage else len(text.split()),
                                  attempts=attempt + 1)
            except openai.APIStatusError as e:
                error = f"HTTP {e.status_code}: {str(e)[:200]}"
                if e.status_code not in (408, 409, 429) and e.status_code < 500:
                    return ChatResult(None, error=error, attempts=attempt + 1)  # not worth retrying
                retry_after = _retry_after(e.response)
            except openai.APITimeoutError:
                error = f"timeout after {self.cfg.timeout_s} s"
            except openai.APIConnectionError as e:
                error = f"connection error: {e}"
            except ValueError as e:  # a reply that is not a chat completion
                error = f"bad response: {e}"
            if attempt < self.cfg.max_retries:
                delay = retry_after if retry_after is not None else self.cfg.backoff_s * 2 ** attempt
                time.sleep(min(60.0, delay * random.uniform(0.5, 1.5)))
        log.warning("request failed after %d tries: %s", self.cfg.max_retries + 1, error)
        return ChatResult(None, error=error, attempts=self.cfg.max_retries + 1)


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None
