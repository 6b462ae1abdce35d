"""The token-shard format (docs/ARCHITECTURE.md §7): writing, reading and verifying it.

A shard directory holds ``manifest.json``, ``tokenizer.json`` and, under ``shards/``, per shard
a flat token file ``NAME.bin`` (native-endian ``uint16`` when the vocabulary fits, else
``uint32``) and a Parquet index ``NAME.parquet`` with one row per document:

    id: string, id_hash: uint64, source: string,
    offset: int64 (first token in the shard file), length: int32 (tokens, prefix and EOS included),
    prefix_len: int32 (MeCo metadata-prefix tokens at the start of the document), score columns...

A document's tokens are ``prefix tokens + text tokens + [eos]``. The manifest lists every shard
with its size and SHA-256 (tokens and index); ``ShardSet`` checks sizes always and checksums
when asked, and names the file and the problem (truncated, corrupted) when one does not match.

A shard directory on an object store (``s3://…``, any fsspec URL) is downloaded once into a local
cache (``local_copy``) and memory-mapped from there: ``$DATAMILL_CACHE/shards/<hash>`` (default
``~/.cache/datamill``), the hash covering the URL and the manifest's bytes, so rewritten shards get
a new copy. Every file is checked against the manifest's size and SHA-256 before the copy is used.

Imports numpy, pyarrow and the standard library (fsspec only for a URL): the trainer's machine
has little else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FORMAT = "datamill-token-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
SHARD_SUBDIR = "shards"
INDEX_COLUMNS = ("id", "id_hash", "source", "offset", "length", "prefix_len")
_CHUNK = 1 << 24  # bytes hashed per read when verifying
log = logging.getLogger(__name__)


class ShardError(ValueError):
    """A shard directory that is missing, truncated, corrupted or inconsistent."""


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Temp file + rename: a reader sees the old file or the whole new one, never a part. A URL
    (``s3://…``) is written through fsspec the same way (the manifest, written last, is the marker)."""
    if "://" in str(path):
        from datamill.fileio import atomic_write_bytes as write_url

        write_url(str(path), data)
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _join(shard_dir: str | Path, rel: str) -> str:
    return f"{str(shard_dir).rstrip('/')}/{rel}"  # (Path() would fold the // of s3://)


def write_shard(shard_dir: str | Path, name: str, tokens: np.ndarray, index: pa.Table) -> dict:
    """Write one shard (tokens + index) atomically; return its manifest entry."""
    missing = [c for c in INDEX_COLUMNS if c not in index.column_names]
    if missing:
        raise ValueError(f"shard {name}: index lacks column(s) {missing}")
    tok_rel, idx_rel = f"{SHARD_SUBDIR}/{name}.bin", f"{SHARD_SUBDIR}/{name}.parquet"
    data = np.ascontiguousarray(tokens).tobytes()
    atomic_write_bytes(_join(shard_dir, tok_rel), data)
    sink = pa.BufferOutputStream()
    pq.write_table(index, sink, compression="zstd")
    idx_bytes = sink.getvalue().to_pybytes()
    atomic_write_bytes(_join(shard_dir, idx_rel), idx_bytes)
    return {"name": name, "tokens_file": tok_rel, "index_file": idx_rel,
            "num_tokens": int(tokens.size), "num_docs": index.num_rows, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "index_sha256": hashlib.sha256(idx_bytes).hexdigest()}


def write_manifest(shard_dir: str | Path, manifest: dict) -> None:
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    atomic_write_bytes(_join(shard_dir, MANIFEST), json.dumps(manifest, indent=1, sort_keys=True).encode())


def read_manifest(shard_dir: str | Path) -> dict:
    path = Path(shard_dir) / MANIFEST
    if not path.is_file():
        raise ShardError(f"{shard_dir}: no {MANIFEST} (not a token_shards directory, or the stage did not finish)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ShardError(f"{path}: corrupted manifest ({e})") from None
    if manifest.get("format") != FORMAT:
        raise ShardError(f"{path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ShardError(f"{path}: format version {manifest['format_version']} is newer than this reader "
                         f"({FORMAT_VERSION}); upgrade datamill")
    return manifest


@dataclass
class Shard:
    name: str
    tokens: np.ndarray  # (num_tokens,) memmap, uint16 or uint32
    index: pa.Table  # one row per document


class ShardSet:
    """One shard directory, memory-mapped. ``verify``: "full" (sizes + SHA-256 of every file),
    "size" (sizes and index consistency only) or "none"."""

    def __init__(self, shard_dir: str | Path, verify: str = "full"):
        if verify not in ("full", "size", "none"):
            raise ValueError(f"verify: expected 'full', 'size' or 'none', got {verify!r}")
        self.dir = Path(local_copy(str(shard_dir)))
        self.manifest = read_manifest(self.dir)
        tok = self.manifest["tokenizer"]
        self.vocab_size: int = int(tok["vocab_size"])
        self.eos_id: int = int(tok["eos_id"])
        self.tokenizer_path = str(self.dir / tok.get("file", TOKENIZER))
        self.dtype = np.dtype(self.manifest["dtype"])
        if verify == "full":
            self._check_sha(Path(self.tokenizer_path), tok.get("sha256"))
        self.shards = [self._open(entry, verify) for entry in self.manifest["shards"]]

    def _check_sha(self, path: Path, expected: str | None) -> None:
        if not path.is_file():
            raise ShardError(f"{path}: missing (listed in {self.dir / MANIFEST})")
        if expected and sha256_file(path) != expected:
            raise ShardError(f"{path}: corrupted (SHA-256 differs from {self.dir / MANIFEST})")

    def _open(self, entry: dict, verify: str) -> Shard:
        tok_path, idx_path = self.dir / entry["tokens_file"], self.dir / entry["index_file"]
        for p in (tok_path, idx_path):
            if not p.is_file():
                raise ShardError(f"{p}: missing (listed in {self.dir / MANIFEST})")
        expected = int(entry["num_tokens"]) * self.dtype.itemsize
        actual = tok_path.stat().st_size
        if verify != "none" and actual != expected:
            what = "truncated" if actual < expected else "too long"
            raise ShardError(f"{tok_path}: {what}: {actual} bytes, the manifest says {expected} "
                             f"({entry['num_tokens']} {self.dtype.name} tokens)")
        if verify == "full":
            self._check_sha(tok_path, entry["sha256"])
            self._check_sha(idx_path, entry["index_sha256"])
        try:
            index = pq.read_table(idx_path)
        except (pa.ArrowInvalid, OSError) as e:
            raise ShardError(f"{idx_path}: unreadable index ({e})") from None
        if verify != "none":
            self._check_index(idx_path, index, entry)
        tokens = (np.memmap(tok_path, dtype=self.dtype, mode="r") if expected
                  else np.zeros(0, dtype=self.dtype))
        return Shard(entry["name"], tokens, index)

    def _check_index(self, path: Path, index: pa.Table, entry: dict) -> None:
        if index.num_rows != entry["num_docs"]:
            raise ShardError(f"{path}: {index.num_rows} documents, the manifest says {entry['num_docs']}")
        if index.num_rows:
            off = index.column("offset").to_numpy()
            end = off + index.column("length").to_numpy()
            if off[0] != 0 or (off[1:] != end[:-1]).any() or end[-1] != entry["num_tokens"]:
                raise ShardError(f"{path}: document offsets do not tile the {entry['num_tokens']} tokens")

    @property
    def num_tokens(self) -> int:
        return sum(int(s.tokens.size) for s in self.shards)

    def index(self) -> pa.Table:
        """Every document of every shard, with a ``shard`` column (position in ``self.shards``)."""
        tables = [s.index.append_column("shard", pa.array(np.full(s.index.num_rows, i, np.int32)))
                  for i, s in enumerate(self.shards)]
        if not tables:
            return pa.table({c: [] for c in (*INDEX_COLUMNS, "shard")})
        return pa.concat_tables(tables, promote_options="default")

    def doc_tokens(self, shard: int, offset: int, length: int) -> np.ndarray:
        return np.asarray(self.shards[shard].tokens[offset:offset + length])


def cache_root() -> Path:
    return Path(os.environ.get("DATAMILL_CACHE") or Path.home() / ".cache" / "datamill")


def local_copy(shard_dir: str) -> str:
    """``shard_dir`` itself when local; for a URL, a verified local copy (downloaded on first use).
    The copy is built under a temp name and renamed, so a killed download is never used."""
    if "://" not in shard_dir or shard_dir.startswith("file://"):
        return shard_dir.removeprefix("file://")
    import fsspec  # only the URL case needs it

    fs, root = fsspec.core.url_to_fs(shard_dir.rstrip("/"))
    try:
        raw = fs.cat_file(f"{root}/{MANIFEST}")
    except FileNotFoundError:
        raise ShardError(f"{shard_dir}: no {MANIFEST} (not a token_shards directory, or the stage did not finish)") \
            from None
    key = hashlib.sha256(shard_dir.rstrip("/").encode() + b"\0" + raw).hexdigest()[:20]
    dest = cache_root() / "shards" / key
    if (dest / MANIFEST).is_file():
        return str(dest)
    manifest = json.loads(raw)
    tok = manifest.get("tokenizer", {})
    files = [(tok.get("file", TOKENIZER), None, tok.get("sha256"))] + \
        [(f, e["bytes"] if f == e["tokens_file"] else None, e[h])
         for e in manifest.get("shards", []) for f, h in ((e["tokens_file"], "sha256"), (e["index_file"], "index_sha256"))]
    import shutil

    tmp = dest.with_name(f"{key}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        for rel, size, sha in files:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root}/{rel}", str(tmp / rel))
            if size is not None and (tmp / rel).stat().st_size != size:
                raise ShardError(f"{shard_dir}/{rel}: {(tmp / rel).stat().st_size} bytes, the manifest says {size}")
            if sha and sha256_file(tmp / rel) != sha:
                raise ShardError(f"{shard_dir}/{rel}: corrupted (SHA-256 differs from its {MANIFEST})")
        (tmp / MANIFEST).write_bytes(raw)  # last: a copy with a manifest is complete
        os.replace(tmp, dest)
    except OSError:
        if not (dest / MANIFEST).is_file():
            raise
        # another process finished the same copy first
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("copied token shards %s to %s", shard_dir, dest)
    return str(dest)
