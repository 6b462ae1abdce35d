"""Evaluation sets, tokenized once with the one tokenizer every arm shares, identical for every arm.

Held-out sets: per source, the documents whose id hash falls below ``eval.held_out_fraction``
(``datamill.train.data.val_mask``, the trainer's own held-out split). Every arm trains with
``data.val_fraction`` set to the same fraction, so its loader never reads a document with such an
id: the held-out documents are excluded from every arm's training data whatever its pipeline did.
Their text is taken from the baseline pipeline (each source as read, or ``eval.from_stage``);
a baseline that mixes existing shards gives its own held-out documents' tokens. Never with
metadata prefixes. Reference sets are local files no arm reads.

Each set's documents (in id-hash order) become one token stream, ``text + eos`` per document, cut
into non-overlapping windows of ``seq_len + 1`` tokens; the first ``eval.windows`` are kept. Each
set also records the UTF-8 bytes its target tokens stand for, so a loss converts to bits per byte.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.shards import ShardSet
from datamill.stages.tokens import tokenizer as toklib
from datamill.train.data import Batch, val_mask
from datamill.typed_config import ConfigError

log = logging.getLogger(__name__)


def id_hashes(ids: list[str]) -> np.ndarray:
    """The shards' ``id_hash`` of each id (``token_shards``: xxh3-64 of the UTF-8 id)."""
    import xxhash

    return np.array([xxhash.xxh3_64_intdigest(i.encode()) for i in ids], np.uint64)


def held_out_docs(doc_dir: str, fraction: float) -> dict[str, list[str]]:
    """source -> held-out texts (in id-hash order) of a stage dir of documents."""
    table = pq.read_table(doc_dir, columns=["id", "text", "source"])
    hashes = id_hashes(table.column("id").to_pylist())
    keep = val_mask(hashes, fraction)
    table = table.filter(pa.array(keep)).append_column("h", pa.array(hashes[keep]))
    table = table.sort_by([("source", "ascending"), ("h", "ascending")])
    out: dict[str, list[str]] = {}
    for src, text in zip(table.column("source").to_pylist(), table.column("text").to_pylist()):
        out.setdefault(src or "default", []).append(text or "")
    return out


def reference_docs(path: str, text_field: str) -> list[str]:
    """Documents of a reference file: .txt (one document), .jsonl[.gz] or .parquet (one per row)."""
    if path.endswith(".txt"):
        return [Path(path).read_text(encoding="utf-8")]
    if path.endswith(".parquet"):
        return [t or "" for t in pq.read_table(path, columns=[text_field]).column(text_field).to_pylist()]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line)[text_field] for line in f if line.strip()]


def token_bytes(tok_json: str) -> np.ndarray:
    """UTF-8 bytes each token id stands for (0 for special tokens): exact for byte-level BPE, whose
    token strings spell bytes in GPT-2's byte-to-unicode alphabet; decoded otherwise."""
    from tokenizers import pre_tokenizers

    tok = toklib.get(tok_json)
    alphabet = set(pre_tokenizers.ByteLevel.alphabet())
    special = {t["id"] for t in json.loads(tok_json).get("added_tokens", []) if t.get("special")}
    out = np.zeros(tok.get_vocab_size(with_added_tokens=True), np.int64)
    for piece, i in tok.get_vocab(with_added_tokens=True).items():
        if i in special:
            continue
        out[i] = len(piece) if set(piece) <= alphabet else len(tok.decode([i]).encode())
    return out


def text_stream(texts: list[str], tok_json: str, eos: int) -> np.ndarray:
    """The documents as one token stream, ``text + eos`` each."""
    ids, lens = toklib.encode(tok_json, texts)
    return np.insert(np.asarray(ids, np.int64), np.cumsum(lens), eos)


def shard_stream(shard_dir: str, fraction: float) -> dict[str, tuple[np.ndarray, int]]:
    """source -> (token stream, documents) of a shard set's held-out documents, metadata prefixes
    left out: for a baseline that is a mix of existing shards (its tokens are already the shared
    tokenizer's)."""
    s = ShardSet(shard_dir, verify="size")
    index = s.index()
    hashes = index.column("id_hash").to_numpy()
    keep = np.flatnonzero(val_mask(hashes, fraction))
    keep = keep[np.argsort(hashes[keep], kind="stable")]
    cols = {c: index.column(c).to_numpy() for c in ("shard", "offset", "length", "prefix_len")}
    sources = index.column("source").to_pylist()
    pieces: dict[str, list[np.ndarray]] = {}
    for i in keep.tolist():
        start = int(cols["offset"][i] + cols["prefix_len"][i])
        doc = s.doc_tokens(int(cols["shard"][i]), start, int(cols["length"][i] - cols["prefix_len"][i]))
        pieces.setdefault(sources[i], []).append(doc.astype(np.int64))
    return {src: (np.concatenate(p), len(p)) for src, p in pieces.items()}


def build_eval_sets(out_dir: str, streams: dict[str, tuple[np.ndarray, int]], tok_json: str, seq_len: int,
                    windows: int, kinds: dict[str, str]) -> dict[str, dict]:
    """Write ``out_dir/<set>.npy``, the first ``windows`` non-overlapping windows (n, seq_len + 1)
    of each set's stream, and return each set's record (kind, documents, windows, target tokens
    and bytes, content hash)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    nbytes = token_bytes(tok_json)
    sets, L = {}, seq_len + 1
    for name, (stream, n_docs) in streams.items():
        k = min(windows, len(stream) // L)
        if k == 0:
            raise ConfigError(f"eval set {name!r}: its {n_docs} documents hold fewer than {L} tokens "
                              "(raise eval.held_out_fraction or add documents)")
        if k < windows:
            log.warning("eval set %r: only %d of %d windows (%d documents)", name, k, windows, n_docs)
        w = stream[: k * L].reshape(k, L)
        np.save(f"{out_dir}/{name}.npy", w)
        sets[name] = {"kind": kinds[name], "documents": n_docs, "windows": k,
                      "target_tokens": int(w[:, 1:].size), "target_bytes": int(nbytes[w[:, 1:]].sum()),
                      "sha256": hashlib.sha256(w.tobytes()).hexdigest()[:16]}
    return sets


def bits_per_byte(loss: float, record: dict) -> float:
    """Mean loss in nats per target token -> bits per UTF-8 byte of the same text."""
    return loss * record["target_tokens"] / (math.log(2) * max(record["target_bytes"], 1))


class EvalWindows:
    """The trainer's validation loader (``loop.evaluate``) over fixed windows: every eval set's
    windows in order, ``batch_size`` at a time; ``sources`` are the eval set names."""

    def __init__(self, sets: dict[str, np.ndarray], eos: int, batch_size: int):
        self.sources = sorted(sets)
        self._rows = [(s, w) for s in self.sources for w in sets[s]]
        self.eos, self.batch_size, self.pos = eos, batch_size, 0

    @property
    def n_batches(self) -> int:
        return -(-len(self._rows) // self.batch_size)

    def state_dict(self) -> dict:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.pos = state["pos"]

    def set_strip_metadata(self, on) -> None:
        """Eval windows carry no metadata prefixes."""

    def next_batch(self) -> Batch:
        rows = self._rows[self.pos:self.pos + self.batch_size] or self._rows[:self.batch_size]
        self.pos += len(rows)
        w = np.stack([r[1] for r in rows])
        ends = np.cumsum(w[:, :-1] == self.eos, axis=1)
        seg = np.concatenate([np.zeros((len(w), 1), np.int64), ends[:, :-1]], axis=1)  # a document ends at its eos
        return Batch(input_ids=w[:, :-1].copy(), targets=w[:, 1:].copy(), loss_mask=np.ones(w[:, 1:].shape, np.float32),
                     doc_ids=seg.astype(np.int32), sources=[r[0] for r in rows])
