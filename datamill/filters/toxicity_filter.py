"""Toxicity filtering in Dolma's style (Soldaini et al. 2024; ``dolma/taggers/jigsaw.py``).

A classifier (fastText, or an embedding classifier: ``text_classifier``) scores the whole document (``toxicity_score`` = P(``label``), newlines
read as spaces) and each sentence; sentences scoring above ``sentence_threshold`` are cut out
of the text and the rest is kept (Dolma's mixer removes such spans at 0.4), while a document
scoring above ``document_threshold`` is removed. Sentences of fewer than ``min_sentence_words``
words are not scored. A word list (LDNOOBW, read at run time) adds ``num_bad_words``. Every
score stays a column, so ``mode: annotate`` tags without dropping (the trade-off of Longpre
et al. 2023 is a per-use choice).
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text, _wordlist, text_classifier
from datamill.filters._rules import check_rules, column, first_reason
from datamill.stage import Filter, Mode, set_columns
from datamill.typed_config import FilePath

# A sentence: from a non-space character to terminal punctuation followed by whitespace, or
# to the end of its line (a stand-in for Dolma's sentence splitter).
SENTENCE = re.compile(r"""\S.*?(?:[.!?]+["')\]]*(?=\s|$)|(?=\n)|$)""", re.S)


@dataclasses.dataclass(frozen=True)
class ToxicityFilter(Filter):
    """Score documents and sentences with a toxicity classifier, cut toxic sentences,
    drop toxic documents, count listed words."""

    use: ClassVar[str] = "toxicity_filter"
    RULES: ClassVar[tuple[str, ...]] = ("toxicity_document", "toxicity_all_sentences",
                                        "toxicity_bad_words")
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("text", "toxicity_score", "toxicity_max_sentence_score",
                                         "num_toxic_sentences", "toxic_sentence_fraction",
                                         "num_bad_words")

    model: FilePath = ""  # fastText .bin or embedding-classifier dir (`datamill fit-classifier`); "" = word list only
    label: str = "__label__toxic"  # Dolma's jigsaw hatespeech classifier's positive label
    document_threshold: float = 0.4  # Dolma's "high" threshold (vs ~0.0004 "low")
    sentence_threshold: float = 0.4  # Dolma mixer: remove sentence spans scoring > 0.4
    normalize: bool = False  # as the model was trained (`fit-classifier --normalize`)
    sentences: bool = True  # score sentences (Dolma's *_sentence_v2 taggers)
    remove_sentences: bool = True  # cut toxic sentences out of the text (Dolma mixer)
    min_sentence_words: int = 2  # shorter sentences ("1.", "Yes.") are not scored: too little
    # evidence, the classifier returns its prior (Dolma scores every sentence: 1)
    # reuse: an embedding classifier scores documents from an upstream `embed` stage's column when
    # there is one (same encoder: checked; sentences are always embedded here); compute: never reuse
    embeddings: Literal["reuse", "compute"] = "reuse"
    wordlist_path: FilePath = ""  # LDNOOBW list, one entry per line (e.g. its en file); "" = off
    max_bad_words: int = 0  # drop a document with more listed words than this (C4: any)
    disable: tuple[str, ...] = ()  # rule names (see RULES) to switch off
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        check_rules(self, self.RULES)
        if not self.model and not self.wordlist_path:
            raise ValueError("toxicity_filter: set 'model' (a classifier), 'wordlist_path', or both")

    def annotate(self, table: pa.Table) -> pa.Table:
        text = _text.text_array(table)
        values = {}
        if self.model:
            clf = text_classifier.load(self.model, label=self.label, normalize=self.normalize, stage=self.use)
            score = text_classifier.document_scores(clf, table, text, reuse_embedding=self.embeddings == "reuse",
                                                    stage=self.use)
            score[_text.lengths(pc.utf8_trim_whitespace(text)) == 0] = 0.0  # no text, no toxicity
            values["toxicity_score"] = pa.array(score, type=pa.float32())
            if self.sentences:
                new_text, max_score, n_toxic, n_sentences = self._sentences(clf, text.to_pylist())
                if self.remove_sentences:
                    values = {"text": pa.array(new_text, type=pa.string()), **values}
                values["toxicity_max_sentence_score"] = pa.array(max_score, type=pa.float32())
                values["num_toxic_sentences"] = n_toxic
                values["toxic_sentence_fraction"] = _text.safe_div(n_toxic, n_sentences)
        if self.wordlist_path:
            values["num_bad_words"] = _wordlist.count_listed(text, self.wordlist_path, self.use)
        return set_columns(table, values)

    def _sentences(self, clf, texts: list[str]):
        spans = [[(m.start(), m.end()) for m in SENTENCE.finditer(t)] for t in texts]
        flat = [t[a:b] for t, s in zip(texts, spans) for a, b in s]
        scores = clf.scores(flat)
        if self.min_sentence_words > 1:
            scores[np.array([len(x.split()) < self.min_sentence_words for x in flat], dtype=bool)] = 0.0
        counts = np.array([len(s) for s in spans], dtype=np.int64)
        parent = np.repeat(np.arange(len(texts)), counts)
        toxic = scores > self.sentence_threshold
        max_score = np.zeros(len(texts), dtype=np.float32)
        np.maximum.at(max_score, parent, scores)
        n_toxic = np.bincount(parent, weights=toxic, minlength=len(texts)).astype(np.int64)
        new_text = list(texts)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        for i in np.flatnonzero(n_toxic):
            cut = [span for span, bad in zip(spans[i], toxic[offsets[i]:offsets[i + 1]]) if bad]
            new_text[i] = _remove_spans(texts[i], cut)
        return new_text, max_score, n_toxic, counts

    def reasons(self, table: pa.Table) -> pa.Array:
        n = table.num_rows
        names = table.column_names
        doc = (column(table, "toxicity_score") > self.document_threshold
               if "toxicity_score" in names else np.zeros(n, bool))
        # every sentence is toxic: nothing worth keeping is left
        all_cut = (column(table, "toxic_sentence_fraction") >= 1.0
                   if "toxic_sentence_fraction" in names else np.zeros(n, bool))
        words = (column(table, "num_bad_words") > self.max_bad_words
                 if "num_bad_words" in names else np.zeros(n, bool))
        return first_reason(n, self.disable, [
            ("toxicity_document", doc), ("toxicity_all_sentences", all_cut),
            ("toxicity_bad_words", words)])


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """The text without the given (sorted, disjoint) spans, each with the whitespace after it."""
    pieces, pos = [], 0
    for start, end in spans:
        pieces.append(text[pos:start])
        pos = end
        while pos < len(text) and text[pos] in " \t":
            pos += 1
    pieces.append(text[pos:])
    return "".join(pieces).strip()
