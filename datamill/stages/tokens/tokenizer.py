"""Tokenizers for ``token_shards``: train a byte-level BPE with HF ``tokenizers`` or load a
``tokenizer.json``, and encode documents into one flat token array.

The trained tokenizer has no normalizer and a byte-level pre-tokenizer without an added prefix
space (GPT-2's split regex), so decoding a document's tokens gives back its text byte for byte.
A loaded tokenizer keeps whatever normalisation it declares.

Sampling for training is a bottom-k by a seeded hash of the document id, bounded in bytes:
the same documents are chosen however the data is partitioned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pyarrow as pa

from datamill.typed_config import FilePath

_CACHE: dict[str, object] = {}  # tokenizer JSON sha256 -> Tokenizer, one per worker process


@dataclasses.dataclass(frozen=True)
class TokenizerSpec:
    """``path`` loads a tokenizer.json; ``path: ""`` trains a byte-level BPE on the stage's input."""

    path: FilePath = ""  # a tokenizer.json (HF tokenizers format); "" = train one
    train_vocab: int = 32000  # vocabulary size when training (fits uint16 shards)
    sample_bytes: int = 200_000_000  # text used to train: bounded, seeded sample of documents
    min_frequency: int = 2  # BPE merges seen fewer times are not learned (HF default is 0)
    eos_token: str = "<|endoftext|>"  # GPT-2's; appended after every document
    seed: int = 0  # which documents the training sample holds

    def __post_init__(self):
        if not self.path and not 256 + 1 <= self.train_vocab <= 1 << 32:
            raise ValueError(f"tokenizer.train_vocab: must be above 256 (the byte alphabet), got {self.train_vocab}")
        if self.sample_bytes <= 0:
            raise ValueError(f"tokenizer.sample_bytes: must be positive, got {self.sample_bytes}")
        if not self.eos_token:
            raise ValueError("tokenizer.eos_token: must not be empty")


def sample_key(seed: int, doc_id: str) -> int:
    """64-bit hash of (seed, id): the training sample's order, independent of partitioning."""
    h = hashlib.blake2b(f"{seed}\x00{doc_id}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def sample_partition(table: pa.Table, seed: int, max_bytes: int, text_col: str = "text",
                     prefix_col: str = "") -> list[tuple[int, str, str]]:
    """This partition's candidates: (key, id, text) sorted by key, cut at ``max_bytes``.
    Metadata prefixes (when present) are candidates too: they are tokenized on their own."""
    if table.num_rows == 0:
        return []
    ids = table.column("id").to_pylist()
    texts = table.column(text_col).to_pylist()
    prefixes = table.column(prefix_col).to_pylist() if prefix_col in table.column_names else None
    rows = []
    for i, (doc_id, text) in enumerate(zip(ids, texts)):
        key = sample_key(seed, doc_id)
        rows.append((key, doc_id, text or ""))
        if prefixes is not None and prefixes[i]:
            rows.append((key, doc_id + "\x00prefix", prefixes[i]))
    return _cut(sorted(rows), max_bytes)


def merge_samples(samples: list[list[tuple[int, str, str]]], max_bytes: int) -> list[tuple[int, str, str]]:
    """Tree-reduce step: merge sorted candidate lists, keep the smallest keys up to ``max_bytes``."""
    return _cut(sorted(row for s in samples for row in s), max_bytes)


def _cut(rows: list, max_bytes: int) -> list:
    total = 0
    for n, row in enumerate(rows):
        total += len(row[2].encode())
        if total >= max_bytes:
            return rows[: n + 1]
    return rows


def train_bpe(texts: list[str], vocab_size: int, *, min_frequency: int = 2,
              eos_token: str = "<|endoftext|>") -> str:
    """Train a byte-level BPE; returns the tokenizer JSON string."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=[eos_token], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok.to_str()


def train_from_sample(sample: list[tuple[int, str, str]], spec: TokenizerSpec) -> str:
    if not sample:
        raise ValueError("token_shards: no documents to train the tokenizer on (empty input)")
    return train_bpe([row[2] for row in sample], spec.train_vocab, min_frequency=spec.min_frequency,
                     eos_token=spec.eos_token)


def load_json(path: str) -> str:
    """Read a tokenizer.json (any fsspec path) and check that HF tokenizers can load it."""
    import fsspec
    from tokenizers import Tokenizer

    with fsspec.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    try:
        Tokenizer.from_str(text)
    except Exception as e:  # tokenizers raises a bare Exception on a bad file
        raise ValueError(f"token_shards: tokenizer.path {path!r} is not a tokenizer.json: {e}") from None
    return text


def get(tokenizer_json: str):
    """The ``Tokenizer`` for a JSON string, built once per worker process."""
    key = hashlib.sha256(tokenizer_json.encode()).hexdigest()
    tok = _CACHE.get(key)
    if tok is None:
        from tokenizers import Tokenizer

        tok = _CACHE[key] = Tokenizer.from_str(tokenizer_json)
    return tok


def eos_id(tokenizer_json: str, eos_token: str) -> int:
    i = get(tokenizer_json).token_to_id(eos_token)
    if i is None:
        raise ValueError(f"token_shards: the tokenizer has no token {eos_token!r} (set tokenizer.eos_token "
                         f"to its end-of-text token)")
    return i


def vocab_size(tokenizer_json: str) -> int:
    return get(tokenizer_json).get_vocab_size(with_added_tokens=True)


def encode(tokenizer_json: str, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Encode texts without special tokens; returns (flat int64 ids, per-text lengths)."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    encs = get(tokenizer_json).encode_batch_fast(texts, add_special_tokens=False)
    lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
    flat = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def decode(tokenizer_json: str, ids) -> str:
    return get(tokenizer_json).decode(list(map(int, ids)), skip_special_tokens=False)


def describe(tokenizer_json: str) -> dict:
    model = json.loads(tokenizer_json).get("model", {})
    return {"model": model.get("type"), "sha256": hashlib.sha256(tokenizer_json.encode()).hexdigest()}
