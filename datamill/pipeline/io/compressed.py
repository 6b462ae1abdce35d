"""Opening input files: decompression by extension, and an error where a compressed file is cut."""

from __future__ import annotations

import contextlib
import io

import fsspec


def is_compressed(path: str) -> bool:
    return path.endswith((".gz", ".zst", ".bz2", ".xz"))


class _ZstdRaw(io.RawIOBase):
    """zstandard's own stream reader cannot iterate lines and ends silently where a file was
    cut; this one decodes frame by frame and raises EOFError when the data stops inside one."""

    def __init__(self, f):
        import zstandard

        self._f, self._new = f, zstandard.ZstdDecompressor().decompressobj
        self._d, self._in_frame, self._buf, self._pos = self._new(), False, b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self._pos >= len(self._buf):
            data = self._f.read(1 << 16)
            if not data:
                if self._in_frame:
                    raise EOFError("zstd stream ended inside a frame (truncated file)")
                return 0
            out = []
            while data:
                self._in_frame = True
                out.append(self._d.decompress(data))
                data = b""
                if self._d.eof:
                    data, self._d, self._in_frame = self._d.unused_data, self._new(), False
            self._buf, self._pos = b"".join(out), 0
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos:self._pos + n]
        self._pos += n
        return n


@contextlib.contextmanager
def open_binary(path: str):
    """A binary reader that decompresses by extension and raises where a compressed file is cut."""
    if not path.endswith(".zst"):
        with fsspec.open(path, "rb", compression="infer") as f:
            yield f
        return
    with fsspec.open(path, "rb") as f:
        yield io.BufferedReader(_ZstdRaw(f), buffer_size=1 << 20)


def read_document_file(path: str, max_bytes: int, bad) -> bytes | None:
    """A one-document file's bytes, or None after counting it as ``too_large`` in ``bad``
    (a ``BadRecords``) when it is over ``max_bytes``."""
    with open_binary(path) as f:
        raw = f.read()
    if len(raw) > max_bytes:
        bad.add(path, 0, "too_large", f"{len(raw)} bytes > max_doc_bytes", raw[:2000])
        return None
    return raw
