"""``token_shards``: tokenize documents and write training shards (docs/METHODS.md, "Tokenization and token shards"; the format is datamill/shards.py).

Plan: (1) train the tokenizer once on a seeded, byte-bounded sample gathered by a tree reduce
(or load a tokenizer.json); (2) one task per partition tokenizes it and writes its shard files
(split at document boundaries so no file exceeds ``max_shard_tokens``); (3) one task writes
``tokenizer.json`` and ``manifest.json`` last, so a directory with a manifest is complete.
Documents are grouped by source within a partition (stable), each stored as
``prefix tokens + text tokens + [eos]``. The stage's output rows are the per-document index.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.stages.tokens import tokenizer as toklib
from datamill.stage import GlobalStage
from datamill.stages.metadata_prefix import PREFIX_COLUMN
from datamill.stages.tokens.tokenizer import TokenizerSpec
from datamill import shards as fmt

NORMALIZATION = ("none: byte-level BPE without normalizer or added prefix space; decoding a document's "
                 "tokens gives back its text exactly")


def _out_dir(stage_dir: str) -> str:
    """Where the shards go: a local directory, or a URL (``s3://…``) written through fsspec; the
    trainer copies a URL's shards to a local cache before memory-mapping them (``shards.local_copy``)."""
    return stage_dir.removeprefix("file://")


def _ranges(sizes: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Positions ``starts[d] + 0..sizes[d]-1`` for every d, flattened."""
    total = int(sizes.sum())
    firsts = np.cumsum(sizes) - sizes
    return np.repeat(starts - firsts, sizes) + np.arange(total, dtype=np.int64)


@dataclass(frozen=True)
class TokenShards(GlobalStage):
    """Tokenize with a trained or loaded tokenizer; write flat token files, indexes, a manifest."""

    use: ClassVar[str] = "token_shards"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ("text",)  # source and the MeCo prefix are used when present
    writes: ClassVar[tuple[str, ...]] = ("shard", "offset", "length", "prefix_len")
    needs_rows: ClassVar[bool] = True  # zero shards would only fail later, in the trainer

    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)  # train a BPE on a sample, or load one
    seq_len: int = 2048  # recorded in the manifest for trainers; the loader takes its own
    max_shard_tokens: int = 1 << 27  # 256 MiB of uint16 per file (Megatron/nanoGPT shards: ~100M tokens)
    text_column: str = "text"  # docs/ARCHITECTURE.md, "Documents"
    source_column: str = "source"  # docs/ARCHITECTURE.md, "Documents": the label used for mixing and per-source loss
    default_source: str = "default"  # for rows without a source
    score_columns: tuple[str, ...] = ("*_score", "num_*", "*_difficulty")  # copied into the index for schedulers

    def __post_init__(self):
        if isinstance(self.tokenizer, dict):  # built from plain Python rather than the config loader
            object.__setattr__(self, "tokenizer", TokenizerSpec(**self.tokenizer))
        if self.max_shard_tokens < 1:
            raise ValueError(f"token_shards: max_shard_tokens must be positive, got {self.max_shard_tokens}")
        if self.seq_len < 1:
            raise ValueError(f"token_shards: seq_len must be positive, got {self.seq_len}")

    def needed_columns(self) -> tuple[str, ...]:
        return (self.text_column,)

    def plan(self, ctx, parts):
        spec = self.tokenizer
        if spec.path:
            tok = ctx.constant(toklib.load_json(spec.path))
        else:
            sample = parts.map(toklib.sample_partition, spec.seed, spec.sample_bytes, self.text_column,
                               PREFIX_COLUMN).reduce(partial(toklib.merge_samples, max_bytes=spec.sample_bytes))
            tok = sample.map(toklib.train_from_sample, spec)
        written = parts.map_indexed(self._write_partition, tok, ctx.stage_dir)
        entries = written.map(_entries).reduce(_concat)
        done = entries.map(self._write_manifest, tok, ctx.stage_dir)
        ctx.add_stats("token_shards", done)
        return written.map(_rows_after, done)

    def _index_score_columns(self, table: pa.Table) -> list[str]:
        taken = set(fmt.INDEX_COLUMNS) | {"shard"}
        return [c for c in table.column_names
                if c not in taken and any(fnmatch.fnmatchcase(c, p) for p in self.score_columns)
                and (pa.types.is_integer(table.schema.field(c).type)
                     or pa.types.is_floating(table.schema.field(c).type))]

    def _write_partition(self, i: int, table: pa.Table, tok_json: str, stage_dir: str) -> dict:
        import xxhash

        eos = toklib.eos_id(tok_json, self.tokenizer.eos_token)
        dtype = fmt.token_dtype(toklib.vocab_size(tok_json))
        if self.text_column not in table.column_names:
            raise ValueError(f"token_shards: input has no {self.text_column!r} column "
                             f"(columns: {table.column_names})")
        n = table.num_rows
        if self.source_column in table.column_names:
            src = pc.fill_null(table.column(self.source_column).cast(pa.string()), self.default_source)
        else:
            src = pa.array([self.default_source] * n, pa.string())
        order = pc.sort_indices(pa.table({"s": src}), sort_keys=[("s", "ascending")])  # stable
        table, src = table.take(order), src.take(order)
        texts = [t or "" for t in table.column(self.text_column).to_pylist()]
        prefixes = ([p or "" for p in table.column(PREFIX_COLUMN).to_pylist()]
                    if PREFIX_COLUMN in table.column_names else [""] * n)
        text_ids, text_lens = toklib.encode(tok_json, texts)
        pre_ids, pre_lens = toklib.encode(tok_json, prefixes)
        lengths = pre_lens + text_lens + 1
        offsets = np.cumsum(lengths) - lengths
        tokens = np.empty(int(lengths.sum()), dtype=dtype)
        tokens[_ranges(pre_lens, offsets)] = pre_ids
        tokens[_ranges(text_lens, offsets + pre_lens)] = text_ids
        tokens[offsets + lengths - 1] = eos
        ids = table.column("id").cast(pa.string())
        index = pa.table({
            "id": ids,
            "id_hash": pa.array([xxhash.xxh3_64_intdigest(s.encode()) for s in ids.to_pylist()], pa.uint64()),
            "source": src,
            "offset": pa.array(offsets, pa.int64()),
            "length": pa.array(lengths, pa.int32()),
            "prefix_len": pa.array(pre_lens, pa.int32()),
            **{c: table.column(c) for c in self._index_score_columns(table)},
        })
        copies = (table.column("mix_copy").to_numpy(zero_copy_only=False) if "mix_copy" in table.column_names
                  else np.zeros(n, np.int64))
        out_dir, entries, rows = _out_dir(stage_dir), [], []
        for k, (lo, hi) in enumerate(_chunks(lengths, self.max_shard_tokens)):
            name = f"{i:05d}-{k:03d}"
            start, stop = int(offsets[lo]), int(offsets[hi - 1] + lengths[hi - 1])
            part = index.slice(lo, hi - lo)
            part = part.set_column(part.schema.get_field_index("offset"), "offset",
                                   pa.array(offsets[lo:hi] - start, pa.int64()))
            entry = fmt.write_shard(out_dir, name, tokens[start:stop], part)
            entry["sources"] = _source_totals(part, copies[lo:hi])
            entries.append(entry)
            rows.append(part.drop_columns(["id_hash"])  # an index detail (and not castable to float for stats)
                        .append_column("shard", pa.array([name] * part.num_rows, pa.string())))
        schema = index.schema.remove(index.schema.get_field_index("id_hash")).append(pa.field("shard", pa.string()))
        return {"entries": entries, "rows": pa.concat_tables(rows) if rows else schema.empty_table()}

    def _write_manifest(self, entries: list[dict], tok_json: str, stage_dir: str) -> dict:
        out_dir = _out_dir(stage_dir)
        entries = sorted((dict(e) for e in entries), key=lambda e: e["name"])  # copies: inputs stay intact
        fmt.atomic_write_bytes(f"{out_dir}/{fmt.TOKENIZER}", tok_json.encode())
        sources: dict[str, dict] = {}
        for e in entries:
            for s, t in e.pop("sources").items():
                acc = sources.setdefault(s, {"docs": 0, "tokens": 0, "prefix_tokens": 0, "repeated_docs": 0})
                for k, v in t.items():
                    acc[k] += v
        totals = {k: sum(s[k] for s in sources.values()) for k in ("docs", "tokens", "prefix_tokens")}
        for s in sources.values():  # tokens trained on: everything but the (masked) metadata prefixes
            denom = totals["tokens"] - totals["prefix_tokens"]
            s["share"] = (s["tokens"] - s["prefix_tokens"]) / denom if denom else 0.0
        vocab = toklib.vocab_size(tok_json)
        spec = self.tokenizer
        manifest = {
            "tokenizer": {"file": fmt.TOKENIZER, **toklib.describe(tok_json), "vocab_size": vocab,
                          "eos_token": spec.eos_token, "eos_id": toklib.eos_id(tok_json, spec.eos_token),
                          "origin": {"path": spec.path} if spec.path else
                          {"trained": {"vocab": spec.train_vocab, "sample_bytes": spec.sample_bytes,
                                       "min_frequency": spec.min_frequency, "seed": spec.seed}},
                          "normalization": NORMALIZATION if not spec.path else "as declared by the tokenizer"},
            "dtype": fmt.token_dtype(vocab).name,
            "seq_len": self.seq_len,
            "layout": "per document: prefix tokens + text tokens + [eos]; prefix_len in the index",
            "totals": totals,
            "sources": dict(sorted(sources.items())),
            "shards": entries,
            "stage": {"use": self.use, "version": self.version, "config": self.config()},
        }
        fmt.write_manifest(out_dir, manifest)
        return {"shards": len(entries), **totals, "vocab_size": vocab,
                "shares": {k: round(v["share"], 6) for k, v in manifest["sources"].items()}}


def _chunks(lengths: np.ndarray, max_tokens: int) -> list[tuple[int, int]]:
    """Document ranges [lo, hi) whose tokens fit ``max_tokens`` (a longer document stands alone)."""
    out, lo, acc = [], 0, 0
    for d, n in enumerate(lengths.tolist()):
        if acc and acc + n > max_tokens:
            out.append((lo, d))
            lo, acc = d, 0
        acc += n
    if acc:
        out.append((lo, len(lengths)))
    return out


def _source_totals(index: pa.Table, copies: np.ndarray) -> dict:
    src = np.asarray(index.column("source").to_pylist(), dtype=object)
    length = index.column("length").to_numpy()
    pre = index.column("prefix_len").to_numpy()
    out = {}
    for s in sorted(set(src.tolist())):
        m = src == s
        out[s] = {"docs": int(m.sum()), "tokens": int(length[m].sum()), "prefix_tokens": int(pre[m].sum()),
                  "repeated_docs": int((copies[m] > 0).sum())}
    return out


def _entries(written: dict) -> list[dict]:
    return written["entries"]


def _concat(lists: list[list]) -> list:
    return [x for lst in lists for x in lst]


def _rows_after(written: dict, _done: dict) -> pa.Table:
    return written["rows"]
