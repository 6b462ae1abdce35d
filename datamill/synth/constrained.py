"""Grammar-constrained decoding for the ``transformers`` backend: a logits processor that lets
each row of a batch emit only tokens that keep its reply a valid prefix of a JSON Schema
(llguidance, the grammar engine behind Guidance and one of vLLM's structured-output backends).

Small models asked for JSON in words reply with prose, code fences or half an object; under the
mask the reply is always valid JSON of the schema, unless it runs out of ``max_tokens`` first.
A row whose grammar is complete (or broken) may only emit end-of-sequence.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=8)
def _grammar(schema: str) -> str:
    import llguidance

    # Compact JSON: without flexible whitespace a small model cannot pad the reply with newlines.
    return llguidance.LLMatcher.grammar_from_json_schema(schema, defaults={"whitespace_flexible": False})


class JsonSchemaLogitsProcessor:
    """``transformers`` logits processor (called with the ids so far and next-token scores)
    for one ``generate`` call over ``rows`` prompts left-padded to ``prompt_len`` tokens."""

    def __init__(self, ll_tokenizer, schema: str, rows: int, prompt_len: int, eos_id: int):
        import llguidance

        grammar = _grammar(schema)
        self.matchers = [llguidance.LLMatcher(ll_tokenizer, grammar, log_level=0) for _ in range(rows)]
        if self.matchers and self.matchers[0].is_error():
            raise ValueError(f"json_schema: llguidance rejects it: {self.matchers[0].get_error()}")
        self.prompt_len, self.eos_id = prompt_len, eos_id

    def __call__(self, input_ids, scores):
        import torch

        generated = input_ids.shape[1] - self.prompt_len
        for row, matcher in enumerate(self.matchers):
            if generated > 0 and not matcher.is_stopped() and not matcher.is_error():
                matcher.consume_token(int(input_ids[row, -1]))
            if matcher.is_stopped() or matcher.is_error():
                scores[row] = float("-inf")
                scores[row, self.eos_id] = 0.0
                continue
            allowed = torch.frombuffer(bytearray(matcher.compute_logit_bias()), dtype=torch.uint8)
            n = min(allowed.numel(), scores.shape[1])
            scores[row, :n].masked_fill_(allowed[:n] == 0, float("-inf"))
            scores[row, n:] = float("-inf")
        return scores

    def errors(self) -> list[str]:
        """Per row: the grammar error, or "" (a row that ran out of tokens is not an error)."""
        return [m.get_error() if m.is_error() else "" for m in self.matchers]


def ll_tokenizer(tokenizer):
    """The llguidance view of a fast Hugging Face tokenizer (~1 s to build: build it once)."""
    try:
        import llguidance.hf
    except ImportError:
        raise ImportError("backend.constrained: the transformers backend needs `pip install llguidance` "
                          "(or set backend.constrained: false)") from None
    return llguidance.hf.from_tokenizer(tokenizer)
