"""Grammar-constrained decoding (datamill/synth/constrained.py) against a scripted logits source:
random next-token scores over a tiny byte-level tokenizer. Unconstrained, such a "model" never
writes JSON; under the mask every finished reply is JSON of the entity schema."""

import json

import pytest

from datamill.synth.prompts import ENTITIES_SCHEMA

llguidance = pytest.importorskip("llguidance")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ['{"', '":', '",', '"]', '"}', '["', "summary", "entities", "Mara", " Quill", " rows", " the", " ship"]


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    byte_chars = list(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(sorted(byte_chars))}
    for word in WORDS:  # multi-character tokens, as real vocabularies have
        vocab.setdefault(_byte_level(word), len(vocab))
    vocab["</s>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")


def _byte_level(text: str) -> str:
    from tokenizers import pre_tokenizers

    return "".join(t for t, _ in pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
                   .pre_tokenize_str(text))


# The entity schema with short bounds, so that random sampling finishes within a few hundred tokens.
SMALL_SCHEMA = json.dumps({
    "type": "object", "required": ["summary", "entities"], "additionalProperties": False,
    "properties": {"summary": {"type": "string", "maxLength": 30},
                   "entities": {"type": "array", "minItems": 2, "maxItems": 4,
                                "items": {"type": "string", "minLength": 1, "maxLength": 8}}},
})


def sample(tokenizer, seed: int, rows: int, constrained: bool, max_new: int = 400) -> list[str]:
    """Random-logit sampling, batched like model.generate: finished rows emit EOS."""
    from datamill.synth.constrained import JsonSchemaLogitsProcessor, ll_tokenizer

    gen = torch.Generator().manual_seed(seed)
    eos = tokenizer.eos_token_id
    vocab = len(tokenizer)
    prompt = torch.tensor([[eos, eos]] * rows)
    proc = (JsonSchemaLogitsProcessor(ll_tokenizer(tokenizer), SMALL_SCHEMA, rows, prompt.shape[1], eos)
            if constrained else None)
    ids, done = prompt, torch.zeros(rows, dtype=torch.bool)
    for _ in range(max_new):
        scores = torch.randn(rows, vocab + 3, generator=gen) * 3  # wider than the vocab, like real models
        scores[:, eos] -= 2.0  # a model that keeps talking
        if proc is not None:
            scores = proc(ids, scores)
        probs = torch.softmax(scores, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=gen).squeeze(1)
        nxt[done] = eos
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        done |= nxt == eos
        if done.all():
            break
    out = []
    for row in ids[:, prompt.shape[1]:].tolist():
        row = row[:row.index(eos)] if eos in row else row
        out.append(tokenizer.decode(row))
    return out


def valid(text: str, max_summary: int = 30, max_items: int = 4, max_name: int = 8) -> bool:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return False
    ents = obj.get("entities") if isinstance(obj, dict) else None
    return (set(obj) == {"summary", "entities"} and isinstance(obj["summary"], str)
            and len(obj["summary"]) <= max_summary and isinstance(ents, list) and 2 <= len(ents) <= max_items
            and all(isinstance(e, str) and 1 <= len(e) <= max_name for e in ents))


def test_unconstrained_random_logits_never_write_the_schema(tokenizer):
    assert not any(valid(t) for t in sample(tokenizer, seed=0, rows=8, constrained=False, max_new=100))


def test_every_constrained_reply_is_json_of_the_schema(tokenizer):
    replies = sample(tokenizer, seed=1, rows=8, constrained=True)
    assert all(valid(t) for t in replies), [t[:200] for t in replies if not valid(t)]
    assert len({t for t in replies}) == len(replies)  # still sampled, not one forced string


def test_a_finished_row_may_only_end(tokenizer):
    from datamill.synth.constrained import JsonSchemaLogitsProcessor, ll_tokenizer

    eos = tokenizer.eos_token_id
    text = '{"summary":"s","entities":["a","b"]}'
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    proc = JsonSchemaLogitsProcessor(ll_tokenizer(tokenizer), ENTITIES_SCHEMA, 1, 1, eos)
    prefix = torch.tensor([[eos]])
    proc(prefix, torch.zeros(1, len(tokenizer)))
    for t in ids:  # feed the reply token by token, as generate would
        prefix = torch.cat([prefix, torch.tensor([[t]])], dim=1)
        scores = proc(prefix, torch.zeros(1, len(tokenizer)))
    assert torch.isfinite(scores[0]).nonzero().flatten().tolist() == [eos]
    assert valid(text, 1500, 100, 80)
    assert proc.errors() == [""]


def test_a_schema_llguidance_rejects_is_an_error(tokenizer):
    from datamill.synth.constrained import JsonSchemaLogitsProcessor, ll_tokenizer

    with pytest.raises(ValueError, match="json_schema"):
        JsonSchemaLogitsProcessor(ll_tokenizer(tokenizer), '{"type": "no-such-type"}', 1, 1,
                                  tokenizer.eos_token_id)


@pytest.fixture(scope="module")
def tiny_model_dir(tokenizer, tmp_path_factory):
    """A randomly initialised 1-layer Llama over the byte-level test tokenizer, saved as an HF dir."""
    path = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("constrained", [True, False])
def test_transformers_backend_json_mode(tiny_model_dir, constrained):
    from datamill.synth.backend_types import BackendConfig, ChatRequest
    from datamill.synth.local_models import TransformersBackend

    backend = TransformersBackend(BackendConfig(kind="transformers", model=tiny_model_dir, dtype="float32",
                                                constrained=constrained))
    max_tokens = 160 if constrained else 40
    requests = [ChatRequest.of([{"role": "user", "content": f"List the entities of story {i}."}],
                               max_tokens=max_tokens, temperature=1.0, seed=1, json_mode=True,
                               json_schema=SMALL_SCHEMA) for i in range(3)]
    results = backend.generate(requests)  # one batch of 3, left-padded to different lengths
    if constrained:  # every reply is the schema's JSON and ends before max_tokens
        assert all(valid(r.text) and r.completion_tokens < max_tokens for r in results), [r.text for r in results]
    else:  # the "{" prefill alone: a random model writes no JSON
        assert not any(valid(r.text) for r in results)
