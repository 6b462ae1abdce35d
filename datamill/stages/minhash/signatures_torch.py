"""The permutation step of MinHash on a torch device (GPU), bit-identical to ``permute_min``.

Only the ``num_shingles x num_perm`` multiply-add-min moves to the device; normalisation and
shingle hashing stay on the CPU. uint32 arithmetic is emulated in int64: ``a, h < 2^32``, the
product wraps mod 2^64 and the low 32 bits of ``a*h + b`` are exact.
"""

from __future__ import annotations

import numpy as np

_CACHE: dict = {}  # (device, num_perm, seed-ish key) -> permutation tensors, once per worker


def resolve_device(device: str) -> str:
    """``cpu`` stays on numpy; ``auto`` picks ``cuda`` when torch sees a GPU."""
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} but torch sees no CUDA GPU")
    return device


def permute_min_torch(values: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray,
                      device: str = "cuda", block: int = 1 << 24) -> np.ndarray:
    """Same contract as ``minhash.permute_min`` for uint32 ``a``, ``b``: (n, num_perm) uint32."""
    import torch

    n, num_perm = len(offsets) - 1, len(a)
    key = (device, a.tobytes(), b.tobytes())
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = (torch.as_tensor(a.astype(np.int64), device=device),
                       torch.as_tensor(b.astype(np.int64), device=device))
    at, bt = _CACHE[key]
    out = torch.full((n, num_perm), 0xFFFFFFFF, dtype=torch.int64, device=device)
    vals = torch.as_tensor(values.astype(np.int64), device=device)
    doc = torch.as_tensor(np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets)), device=device)
    step = max(1, block // num_perm)
    for s0 in range(0, len(values), step):
        v = (vals[s0:s0 + step, None] * at + bt) & 0xFFFFFFFF  # (S, P)
        out.scatter_reduce_(0, doc[s0:s0 + step, None].expand(-1, num_perm), v, reduce="amin")
    return out.cpu().numpy().astype(np.uint32)
