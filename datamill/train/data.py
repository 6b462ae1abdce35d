"""Training batches from token shards (DESIGN.md §7): see ``ShardLoader``.

Imports only numpy, pyarrow and the standard library (the trainer's GPU box has nothing else).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Batch:
    input_ids: np.ndarray  # (B, T) int64
    targets: np.ndarray  # (B, T) int64, the next token of each position
    loss_mask: np.ndarray  # (B, T) float32: 0 where the target is a MeCo metadata-prefix token, else 1
    doc_ids: np.ndarray  # (B, T) int32 segment id per position, non-decreasing within a row
    sources: list[str]  # (B,) source label of each window


class ShardLoader:
    """Windows of ``seq_len + 1`` tokens from one or more ``token_shards`` directories."""

    def __init__(self, shard_dirs: list[str], *, seq_len: int, batch_size: int, seed: int = 0,
                 weights: dict[str, float] | None = None, split: str = "train",
                 val_fraction: float = 0.01, order: str = "random", strip_metadata: bool = False,
                 rank: int = 0, world_size: int = 1, sampler=None):
        raise NotImplementedError("ShardLoader is being implemented (issue 6)")

    def next_batch(self) -> Batch: ...
    def set_strip_metadata(self, on: bool) -> None: ...
    def set_weights(self, weights: dict[str, float]) -> None: ...
    def set_batch_size(self, batch_size: int) -> None: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...
