"""Content fingerprints of the files a stage reads (models, word lists, tokenizers), for cache keys.

A retrained model or an edited word list at the same path must re-run the stage, so the key
holds a hash of the bytes, not the path. Taken on the driver; memoised per process by
(path, size, mtime) so a model is hashed once per run, not once per stage that names it.
"""

from __future__ import annotations

import os

import xxhash

from datamill.fileio import filesystem
from datamill.typed_config import path_fields

_MEMO: dict[tuple[str, int, object], str] = {}


def stage_files(stage) -> dict[str, str]:
    """{"key=path": content hash} for every file-valued field of ``stage`` that exists; a
    ``ModelRef`` that names no file (a bundled or served model) is part of the config already."""
    out = {}
    for key, path, _ in path_fields(stage):
        digest = content_hash(path)
        if digest is not None:
            out[f"{key}={path}"] = digest
    return out


def content_hash(path: str) -> str | None:
    """xxh3 of a file's bytes, or of every file under a directory (names included); None if absent."""
    fs = filesystem(path)
    try:
        info = fs.info(path)
    except (FileNotFoundError, OSError):
        return None
    if info["type"] != "directory":
        return _file_hash(fs, info)
    h = xxhash.xxh3_128()
    base = info["name"].rstrip("/")
    for name, sub in sorted(fs.find(path, detail=True).items()):
        h.update(name[len(base):].encode() + b"\0" + _file_hash(fs, sub).encode())
    return h.hexdigest()


def _file_hash(fs, info: dict) -> str:
    # local: nanosecond mtime (an edit within the same second changes it); object stores: ETag
    stamp = (os.stat(info["name"]).st_mtime_ns if "file" in _protocols(fs)
             else info.get("ETag") or info.get("mtime") or info.get("LastModified"))
    memo = (info["name"], info.get("size"), stamp)
    if memo not in _MEMO:
        h = xxhash.xxh3_128()
        with fs.open(info["name"], "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        _MEMO[memo] = h.hexdigest()
    return _MEMO[memo]


def _protocols(fs) -> tuple[str, ...]:
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
