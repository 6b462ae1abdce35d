"""``decontaminate``: find evaluation data in training documents by normalised word n-grams.

The plan reads every reference set once, on the driver, into one sorted array of 64-bit n-gram
hashes (``ngram_index.py``) and broadcasts it; each partition then hashes its own windows and
looks them up (a ``searchsorted``), with no shuffle. A document is contaminated by a reference
when one of its ``ngram``-word windows is an ``ngram``-window of a reference text, or when a
whole reference text shorter than ``ngram`` words (but at least ``min_words``) appears in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from datamill.partitions import Partitions, PlanContext
from datamill.stage import GlobalStage, require_column, set_columns, with_reasons
from datamill.stages.ngram_index import NgramIndex, build_index, windows, word_spans, words
from datamill.typed_config import FilePath


@dataclass(frozen=True)
class Reference:
    """One evaluation set: a local jsonl(.gz)/parquet file or a ``datasets`` ``save_to_disk`` dir."""

    path: FilePath  # the file or directory (every split of a saved DatasetDict is read)
    # text fields: a string, or a list of strings (each its own text, e.g. options); a dotted name
    # reaches into records and lists of records (SQuALITY: questions.question_text)
    fields: tuple[str, ...] = ("text",)


@dataclass(frozen=True)
class Decontaminate(GlobalStage):
    """Drop, flag or cut out documents sharing a normalised word 13-gram with evaluation data
    (GPT-3, Brown et al. 2020, App. C; lm-evaluation-harness's decontamination)."""

    use: ClassVar[str] = "decontaminate"
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("contamination", "contamination_ngrams")

    references: dict[str, Reference] = field(default_factory=dict)  # name -> evaluation set; reasons name the first match in this order
    ngram: int = 13  # words per window: GPT-3's 13-grams (Brown et al. 2020, App. C)
    min_words: int = 8  # shorter reference texts are ignored: GPT-3's minimum N against spurious matches
    # drop: remove contaminated documents (reason contaminated:<name>) | annotate: keep and flag
    # them | redact: keep every document, with the matched spans cut out
    mode: Literal["drop", "annotate", "redact"] = "drop"

    def __post_init__(self):
        if not self.references:
            raise ValueError("decontaminate: references is required: name -> {path: ..., fields: [...]}")
        if any(not r.fields for r in self.references.values()):
            raise ValueError("decontaminate: every reference needs at least one field")
        if not 1 <= self.min_words <= self.ngram:
            raise ValueError(f"decontaminate: need 1 <= min_words <= ngram, got min_words={self.min_words}, "
                             f"ngram={self.ngram}")

    def index(self) -> NgramIndex:
        """The n-gram index of every reference (read on the driver, once per plan)."""
        texts = {name: read_texts(ref.path, ref.fields, name) for name, ref in self.references.items()}
        return build_index(texts, self.ngram, self.min_words)

    def plan(self, ctx: PlanContext, parts: Partitions) -> Partitions:
        index = self.index()
        scanned = parts.map(self._scan, ctx.constant(index))
        ctx.add_stats("references", scanned.pick(1).reduce(_merge).map(_summary, index.names, index.items))
        return scanned.pick(0)

    def _scan(self, table: pa.Table, index: NgramIndex) -> tuple[pa.Table, dict]:
        text = require_column(table, "text", self.use)
        w = words(text)
        h, start, m = windows(w, list(index.lengths))
        q, entry = index.lookup(h)
        doc = np.searchsorted(w.offsets, start, "right") - 1  # (windows,) the document of each window
        hit = np.unique(q)
        n_ngrams = np.bincount(doc[hit], minlength=table.num_rows)
        pairs = np.unique(doc[q] * len(index.names) + index.ref[entry])  # (doc, ref) by doc, then config order
        pair_doc, pair_ref = pairs // len(index.names), pairs % len(index.names)
        names = pa.array(index.names, pa.string())
        per_doc = np.concatenate([[0], np.cumsum(np.bincount(pair_doc, minlength=table.num_rows))])
        table = set_columns(table, {
            "contamination": pa.ListArray.from_arrays(pa.array(per_doc, pa.int32()), names.take(pair_ref)),
            "contamination_ngrams": pa.array(n_ngrams, pa.int64())})
        stats = {"items": [np.unique(index.item[entry[index.ref[entry] == r]]) for r in range(len(index.names))],
                 "documents": np.bincount(pair_ref, minlength=len(index.names))}
        if self.mode == "redact":
            return _redact(table, text, w.offsets, start[hit], m[hit], doc[hit]), stats
        docs, first = np.unique(pair_doc, return_index=True)  # pairs are sorted: a doc's first is its lowest ref
        reasons = [None] * table.num_rows
        for d, r in zip(docs.tolist(), pair_ref[first].tolist()):
            reasons[d] = f"contaminated:{index.names[r]}"
        return with_reasons(table, pa.array(reasons, pa.string())), stats


def _redact(table: pa.Table, text: pa.ChunkedArray, offsets: np.ndarray, start: np.ndarray, m: np.ndarray,
            doc: np.ndarray) -> pa.Table:
    """Cut the character ranges covered by matched windows out of each document; keep the rest."""
    if not len(doc):
        return table
    out = text.to_pylist()
    for d in np.unique(doc).tolist():
        spans = word_spans(out[d])
        first = start[doc == d] - offsets[d]
        cuts = sorted(zip(spans[first, 0].tolist(), spans[first + m[doc == d] - 1, 1].tolist()))
        kept, pos = [], 0
        for a, b in cuts:
            if a > pos:
                kept.append(out[d][pos:a])
            pos = max(pos, b)
        out[d] = "".join(kept) + out[d][pos:]
    return set_columns(table, {"text": pa.array(out, table.schema.field("text").type)})


def _merge(stats: list[dict | None]) -> dict | None:
    stats = [s for s in stats if s is not None]
    if not stats:
        return None
    return {"items": [np.unique(np.concatenate(a)) for a in zip(*(s["items"] for s in stats))],
            "documents": np.sum([s["documents"] for s in stats], axis=0)}


def _summary(merged: dict | None, names: tuple[str, ...], items: tuple[int, ...]) -> dict:
    """Per reference: its items, how many were found in the corpus, how many documents they touched."""
    return {name: {"items": items[r], "items_found": int(len(merged["items"][r])) if merged else 0,
                   "documents": int(merged["documents"][r]) if merged else 0}
            for r, name in enumerate(names)}


def read_texts(path: str, fields: tuple[str, ...], name: str) -> tuple[pa.Array, np.ndarray, int]:
    """(texts, item index of each text, number of items) of one reference set."""
    columns, n = _read_columns(path, tuple(dict.fromkeys(f.split(".")[0] for f in fields)), name)
    texts, item = [], []
    for f in fields:
        head, *rest = f.split(".")
        before = len(texts)
        for i, value in enumerate(columns[head]):
            values = [v for v in _strings(value, rest) if v is not None]
            bad = next((v for v in values if not isinstance(v, str)), None)
            if bad is not None:
                raise ValueError(f"decontaminate: reference {name!r}: field {f!r} of item {i} holds a "
                                 f"{type(bad).__name__}; expected a string or a list of strings (a dotted "
                                 f"name reaches inside records)")
            texts += [v for v in values if v]
            item += [i] * sum(1 for v in values if v)
        if n and len(texts) == before:
            raise ValueError(f"decontaminate: reference {name!r}: field {f!r} holds no text in any item")
    return pa.array(texts, pa.large_string()), np.array(item, np.int32), n


def _strings(value, path: list[str]) -> list:
    """The values at ``path`` under ``value``, through dicts and lists, as one flat list."""
    if isinstance(value, list):
        return [v for x in value for v in _strings(x, path)]
    if not path or value is None:
        return [value]
    return _strings(value.get(path[0]) if isinstance(value, dict) else None, path[1:])


def _read_columns(path: str, fields: tuple[str, ...], name: str) -> tuple[dict[str, list], int]:
    if Path(path).is_dir():
        import datasets

        loaded = datasets.load_from_disk(path)
        splits = [loaded[s] for s in sorted(loaded)] if isinstance(loaded, datasets.DatasetDict) else [loaded]
        rows = pa.concat_tables([s.data.table for s in splits])
    elif path.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(path)
    else:
        import fsspec

        with fsspec.open(path, "rt", encoding="utf-8", compression="infer") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        _check(list(dict.fromkeys(k for r in rows for k in r)), fields, name, path)
        return {f: [r.get(f) for r in rows] for f in fields}, len(rows)
    _check(rows.column_names, fields, name, path)
    return {f: rows.column(f).to_pylist() for f in fields}, rows.num_rows


def _check(have: list[str], fields: tuple[str, ...], name: str, path: str) -> None:
    missing = [f for f in fields if f not in have]
    if missing:
        raise ValueError(f"decontaminate: reference {name!r} ({path}) has no field(s) {missing}; "
                         f"fields: {sorted(have)}")
