"""The three EntiGraph steps over one partition's documents (see entigraph.py)."""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field

from datamill.synth.backend_types import ChatRequest
from datamill.synth.cache import LLMStats, generate_cached
from datamill.synth.parsing import parse_entities
from datamill.synth.prompts import ENTITIES_SCHEMA, entity_messages, prompt_hash, relation_messages


def request_seed(seed: int, doc_id: str, step: str, entities: tuple[str, ...] = (), attempt: int = 0) -> int:
    blob = "\0".join([str(seed), doc_id, step, *entities, str(attempt)]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little") & 0x7FFFFFFF


def pair_order(seed: int, doc_id: str, n: int, cap: int) -> list[tuple[int, int]]:
    """All i<j pairs, or a seeded sample of ``cap`` of them (in index order)."""
    pairs = list(itertools.combinations(range(n), 2))
    if cap and len(pairs) > cap:
        pairs = sorted(random.Random(request_seed(seed, doc_id, "pairs")).sample(pairs, cap))
    return pairs


def triple_order(seed: int, doc_id: str, n: int) -> list[tuple[int, int, int]]:
    """All i<j<k triples in a seeded shuffled order (Yang et al.: shuffle with random.seed(42))."""
    triples = list(itertools.combinations(range(n), 3))
    random.Random(request_seed(seed, doc_id, "triples")).shuffle(triples)
    return triples


def make_request(stage, messages, seed: int, max_tokens: int, json_mode: bool = False) -> ChatRequest:
    return ChatRequest.of(messages, max_tokens=max_tokens, temperature=stage.temperature, top_p=stage.top_p,
                          seed=seed, json_mode=json_mode, json_schema=ENTITIES_SCHEMA if json_mode else "")


@dataclass
class _Doc:
    id: str
    title: str
    text: str
    summary: str = ""
    entities: list[str] = field(default_factory=list)
    triples: list[tuple[int, int, int]] = field(default_factory=list)  # still to generate, in order
    triple_calls: int = 0
    triple_tokens: int = 0


class EntiGraphRun:
    def __init__(self, stage, prompts, backend, cache):
        self.stage, self.prompts, self.backend, self.cache = stage, prompts, backend, cache
        self.llm = LLMStats()
        self.counts = {"documents": 0, "documents_failed": 0, "parse_failures": 0,
                       "summaries": 0, "pairs": 0, "triples": 0, "relation_failures": 0}
        self.failure_samples: list[dict] = []
        self.rows: list[dict] = []
        self.hashes = {kind: prompt_hash(prompts, kind) for kind in ("summary", "pair", "triple")}

    def run(self, docs: list[tuple[str, str, str]]) -> list[dict]:
        self.counts["documents"] = len(docs)
        parsed = self.extract_entities([_Doc(*d) for d in docs])
        self.relate(parsed)
        self.rows.sort(key=lambda r: r["_order"])
        for row in self.rows:
            del row["_order"]
        return self.rows

    def stats(self) -> dict:
        stats = {**self.counts, **self.llm.as_dict(), "failure_samples": self.failure_samples}
        stats["request_errors"] = stats.pop("errors")
        return stats

    def _generate(self, requests):
        return generate_cached(self.backend, self.cache, self.stage.backend.model, requests, self.llm)

    # Step 1: summary + entities, re-sampled (new seed) up to max_attempts when the reply fails.
    def extract_entities(self, docs: list[_Doc]) -> list[tuple[int, _Doc]]:
        stage, pending, done = self.stage, list(enumerate(docs)), []
        for attempt in range(stage.max_attempts):
            requests = [make_request(stage, entity_messages(self.prompts, d.title, d.text),
                                     request_seed(stage.seed, d.id, "entities", (), attempt),
                                     stage.entity_max_tokens, json_mode=stage.json_mode)
                        for _, d in pending]
            failed = []
            for (order, doc), result in zip(pending, self._generate(requests)):
                parsed = parse_entities(result.text, stage.max_entities) if result.text is not None else None
                if parsed is not None and len(parsed[1]) < 2:
                    parsed = None  # a relation needs two entities: re-sample
                if parsed is None:
                    if result.text is not None:
                        self.counts["parse_failures"] += 1
                        if len(self.failure_samples) < stage.failure_samples:
                            self.failure_samples.append({"source_id": doc.id, "attempt": attempt,
                                                         "reply": result.text[:500]})
                    failed.append((order, doc))
                    continue
                doc.summary, doc.entities = parsed
                done.append((order, doc))
                if doc.summary:
                    self._emit(order, doc, "summary", doc.summary, doc.entities)
            pending = failed
            if not pending:
                break
        self.counts["documents_failed"] = len(pending)
        return sorted(done, key=lambda od: od[0])

    # Steps 2 and 3: one relation text per pair (all pairs, or a seeded sample under max_pairs),
    # and triples in seeded shuffled order, in rounds, until each document's budget is spent.
    # Triples need only the entities, so the first round shares one batch with the pairs.
    def relate(self, docs: list[tuple[int, _Doc]]) -> None:
        stage = self.stage
        jobs = [(order, doc, tuple(doc.entities[i] for i in pair))
                for order, doc in docs
                for pair in pair_order(stage.seed, doc.id, len(doc.entities), stage.max_pairs)]
        for _, doc in docs:
            doc.triples = triple_order(stage.seed, doc.id, len(doc.entities)) if stage.max_triples else []
        # Without a token budget nothing is learned between rounds: take every triple at once.
        per_round = stage.triples_per_round if stage.triple_token_budget else stage.max_triples
        while True:
            triple_jobs = []
            for order, doc in docs:
                if stage.triple_token_budget and doc.triple_tokens >= stage.triple_token_budget:
                    continue
                take = min(per_round, stage.max_triples - doc.triple_calls)
                batch, doc.triples = doc.triples[:take], doc.triples[take:]
                doc.triple_calls += len(batch)
                triple_jobs += [(order, doc, tuple(doc.entities[i] for i in t)) for t in batch]
            if not jobs and not triple_jobs:
                return
            tokens = self._relate(jobs + triple_jobs)
            for (_, doc, _), n in zip(triple_jobs, tokens[len(jobs):]):
                doc.triple_tokens += n
            jobs = []

    def _relate(self, jobs) -> list[int]:
        """One relation text per (order, doc, entities) job (2 entities: a pair, 3: a triple);
        returns the completion tokens of each."""
        kinds = ["pair" if len(ents) == 2 else "triple" for _, _, ents in jobs]
        requests = [make_request(self.stage, relation_messages(self.prompts, doc.title, doc.text, ents),
                                 request_seed(self.stage.seed, doc.id, kind, ents), self.stage.relation_max_tokens)
                    for (_, doc, ents), kind in zip(jobs, kinds)]
        results = self._generate(requests)
        for (order, doc, ents), kind, result in zip(jobs, kinds, results):
            text = (result.text or "").strip()
            if not text:
                self.counts["relation_failures"] += 1
                continue
            self._emit(order, doc, kind, text, list(ents))
        return [r.completion_tokens for r in results]

    def _emit(self, order: int, doc: _Doc, kind: str, text: str, entities: list[str]) -> None:
        self.counts[{"summary": "summaries", "pair": "pairs", "triple": "triples"}[kind]] += 1
        digest = hashlib.sha1("\0".join([doc.id, kind, *entities]).encode()).hexdigest()[:12]
        self.rows.append({
            "_order": (order, len(self.rows)), "id": f"{doc.id}#{kind}-{digest}", "text": text,
            "source_id": doc.id, "kind": kind, "entities": entities, "source": self.stage.source_name,
            "backend": self.stage.backend.kind, "model": self.stage.backend.model,
            "prompt_hash": self.hashes[kind],
        })
