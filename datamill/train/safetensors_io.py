"""safetensors files with the ``safetensors`` package when installed, else a small reader/writer of
the same format (8-byte little-endian header length, a JSON header of dtype/shape/byte offsets,
then the raw little-endian bytes), so a bare torch+numpy GPU box can still export and load."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

_CODES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
          torch.bool: "BOOL"}
_DTYPES = {v: k for k, v in _CODES.items()}


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict | None = None) -> None:
    try:
        from safetensors.torch import save_file
    except ImportError:
        _write(tensors, Path(path), metadata)
    else:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        return _read(Path(path))
    return load_file(str(path))


def _write(tensors: dict[str, torch.Tensor], path: Path, metadata: dict | None) -> None:
    header: dict = {"__metadata__": metadata} if metadata else {}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype not in _CODES:
            raise TypeError(f"safetensors: tensor {name!r} has unsupported dtype {t.dtype}")
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format aligns the data section to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def _read(path: Path) -> dict[str, torch.Tensor]:
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if base + end > len(raw):
            raise ValueError(f"{path}: tensor {name!r} runs past the end of the file (truncated?)")
        dtype = _DTYPES[info["dtype"]]
        buf = bytearray(raw[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"])
    return out
