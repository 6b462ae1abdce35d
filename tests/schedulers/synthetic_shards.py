"""Small token-shard directories written with the shard format's own writer: documents of a few
sources, each from its own sparse Markov chain (learnable), with varied lengths and a score."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from datamill import shards as fmt

VOCAB, EOS = 96, 0


def write_shards(out: Path, docs_per_source: dict[str, int], *, seed: int = 0, max_len: int = 200) -> Path:
    rng = np.random.default_rng(seed)
    out = Path(out)
    tok_json = b'{"model": {"type": "BPE"}, "note": "test stand-in"}'
    fmt.atomic_write_bytes(out / fmt.TOKENIZER, tok_json)
    entries = []
    for k, (source, n) in enumerate(sorted(docs_per_source.items())):
        trans = np.random.default_rng(1000 + k).integers(1, VOCAB, size=(VOCAB, 3))
        lengths = rng.integers(8, max_len, size=n)
        toks, rows, off = [], [], 0
        for d, L in enumerate(lengths.tolist()):
            body = [int(rng.integers(1, VOCAB))]
            for _ in range(L - 2):
                body.append(int(trans[body[-1], rng.integers(3)]))
            doc = np.array(body + [EOS], np.uint16)
            doc_id = f"{source}-{d}"
            rows.append({"id": doc_id, "id_hash": int.from_bytes(hashlib.sha256(doc_id.encode()).digest()[:8], "little"),
                         "source": source, "offset": off, "length": len(doc), "prefix_len": 0,
                         "quality_score": float(rng.random())})
            toks.append(doc)
            off += len(doc)
        schema = pa.schema([("id", pa.string()), ("id_hash", pa.uint64()), ("source", pa.string()),
                            ("offset", pa.int64()), ("length", pa.int32()), ("prefix_len", pa.int32()),
                            ("quality_score", pa.float64())])
        entries.append(fmt.write_shard(out, f"{k:05d}-000", np.concatenate(toks), pa.Table.from_pylist(rows, schema)))
    fmt.write_manifest(out, {
        "tokenizer": {"file": fmt.TOKENIZER, "sha256": hashlib.sha256(tok_json).hexdigest(), "vocab_size": VOCAB,
                      "eos_id": EOS},
        "dtype": "uint16", "seq_len": 64, "shards": entries})
    return out
