"""Word lists (LDNOOBW "bad words", as C4 used them) read at run time from a configured path.

The lists are never vendored: a stage names a file (one entry per line) and each worker
process reads and compiles it once. Matching follows C4/datatrove: case-insensitive, an
entry must be flanked by non-word characters or the text's ends.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.fileio import filesystem

_PATTERNS: dict[tuple, str] = {}  # (path, mtime_ns or ETag, size): a list edited in place is read again
_LOCK = threading.Lock()
_EDGE = r"[^\pL\pN_]"  # a non-word character (Unicode-aware; RE2 syntax)


def _pattern(path: str, stage: str) -> str:
    with _LOCK:
        fs = filesystem(path)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            info = {"type": "missing"}
        if info["type"] != "file":
            raise FileNotFoundError(f"{stage}: word list {path!r} not found "
                                    "(e.g. a local copy of LDNOOBW's en list)")
        # local: nanosecond mtime; object stores: the ETag, which changes with the content
        stamp = (os.stat(path).st_mtime_ns if "://" not in path
                 else info.get("ETag") or info.get("mtime") or info.get("LastModified"))
        key = (path, stamp, info.get("size"))
        if key not in _PATTERNS:
            text = fs.cat_file(path).decode("utf-8")
            entries = sorted({w.strip().lower() for w in text.splitlines()
                              if w.strip()}, key=len, reverse=True)
            if not entries:
                raise ValueError(f"{stage}: word list {path!r} is empty")
            alts = "|".join(_escape(w) for w in entries)
            _PATTERNS[key] = f"(?i)(?:^|{_EDGE})(?:{alts})(?:{_EDGE}|$)"
        return _PATTERNS[key]


def _escape(word: str) -> str:
    # RE2 and Python agree on escaping every non-alphanumeric ASCII character.
    return "".join(c if c.isalnum() or ord(c) > 127 else "\\" + c for c in word)


def contains_listed(text: pa.Array, path: str, stage: str) -> np.ndarray:
    """True where the text contains an entry of the list."""
    hit = pc.match_substring_regex(text, _pattern(path, stage))
    return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)


def count_listed(text: pa.Array, path: str, stage: str) -> np.ndarray:
    """Occurrences of listed entries per row (a lower bound where two listed words are
    separated by a single character, since each match consumes its flanking characters)."""
    counts = pc.count_substring_regex(text, _pattern(path, stage))
    return pc.fill_null(counts, 0).to_numpy(zero_copy_only=False).astype(np.int64)
