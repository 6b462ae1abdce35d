"""Where a training micro-batch comes from, in the order it happens (``TrainData.next_micro``):
the active loader (the cooldown shards' after the MeCo switch, when given) -> Bernoulli replay of
generic rows -> device tensors with the document mask. Also opening the loaders a run reads."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from datamill.fileio import filesystem
from datamill.schedulers import Schedulers
from datamill.train.config import TrainConfig
from datamill.train.data import ShardLoader
from datamill.train.model import doc_mask

log = logging.getLogger(__name__)


@dataclass
class Micro:
    """One micro-batch on the device."""
    input_ids: torch.Tensor  # (B, T) int64
    targets: torch.Tensor  # (B, T) int64
    loss_mask: torch.Tensor | None  # (B, T) float32, 0 on MeCo metadata-prefix targets
    attn_mask: object = None  # None (causal, flash), dense bool (B, 1, T, T) or a BlockMask
    sources: list[str] | None = None


def to_device(batch, device: torch.device, doc_attention: str) -> Micro:
    """Copy a loader Batch to ``device``. Rows that are each a single document get no mask, so the
    flash kernel runs; the check is on the host, costing no device sync."""
    def put(a: np.ndarray, dtype) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
        if device.type == "cuda":
            return t.pin_memory().to(device, non_blocking=True)
        return t.to(device)

    doc_ids = np.asarray(batch.doc_ids)
    single = bool((doc_ids == doc_ids[:, :1]).all())
    mask = None if single or doc_attention == "none" else doc_mask(put(doc_ids, torch.int32), doc_attention)
    return Micro(put(batch.input_ids, torch.int64), put(batch.targets, torch.int64),
                 put(batch.loss_mask, torch.float32), mask, list(batch.sources))


def mix_replay(batch, replay_loader, rng: np.random.Generator, rate: float):
    """Replace each row by a replay row with probability ``rate`` (EntiGraph's Bernoulli replay)."""
    pick = rng.random(len(batch.sources)) < rate
    if not pick.any():
        return batch
    other = replay_loader.next_batch()
    if other.input_ids.shape != batch.input_ids.shape:
        raise ValueError(f"data.replay: replay batch shape {other.input_ids.shape} != {batch.input_ids.shape}")

    def mix(a, b):
        out = np.array(a, copy=True)
        out[pick] = b[pick]
        return out

    sources = [o if p else s for s, o, p in zip(batch.sources, other.sources, pick)]
    doc_ids = mix(batch.doc_ids, other.doc_ids)  # segment ids are per row, so rows swap whole
    return replace(batch, input_ids=mix(batch.input_ids, other.input_ids), targets=mix(batch.targets, other.targets),
                   loss_mask=mix(batch.loss_mask, other.loss_mask), doc_ids=doc_ids, sources=sources)


class TrainData:
    """Every loader one rank reads (train, validation, replay, cooldown) and the replay RNG."""

    def __init__(self, loader, val_loader=None, replay_loader=None, cooldown_loader=None, *, replay_rate: float,
                 seed: int, rank: int, device: torch.device, doc_attention: str):
        if cooldown_loader is not None and cooldown_loader.vocab_size != loader.vocab_size:
            raise ValueError("data.cooldown_shards: their tokenizer differs from data.shards'")
        self.loader, self.val, self.replay, self.cooldown = loader, val_loader, replay_loader, cooldown_loader
        self.replay_rate, self.device, self.doc_attention = replay_rate, device, doc_attention
        self.replay_rng = np.random.default_rng([seed, rank])
        self.val_start = val_loader.state_dict() if val_loader is not None else None  # the same windows every eval
        self.strip: bool | None = None  # MeCo metadata prefixes left out; None until the first step sets it
        self.active = loader

    def set_cooldown(self, on: bool, step: int) -> None:
        """MeCo: metadata prefixes are left out from the cooldown on, on the cooldown shards if given."""
        if on == self.strip:
            return
        self.strip = on
        (self.cooldown or self.loader).set_strip_metadata(on)
        self.active = self.cooldown if on and self.cooldown is not None else self.loader
        if on:
            log.info("step %d: cooldown, metadata prefixes off%s", step,
                     ", on the cooldown shards" if self.cooldown is not None else "")

    def next_micro(self) -> Micro:
        batch = self.active.next_batch()
        if self.replay is not None:
            batch = mix_replay(batch, self.replay, self.replay_rng, self.replay_rate)
        return to_device(batch, self.device, self.doc_attention)

    def state_dict(self) -> dict:
        return {"loader": self.loader.state_dict(), "replay_rng": self.replay_rng.bit_generator.state,
                "replay": self.replay.state_dict() if self.replay is not None else None,
                "cooldown": self.cooldown.state_dict() if self.cooldown is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state["loader"])
        if self.replay is not None:
            self.replay.load_state_dict(state["replay"])
        if self.cooldown is not None:
            self.cooldown.load_state_dict(state["cooldown"])
        self.replay_rng.bit_generator.state = state["replay_rng"]


def missing_shards(cfg: TrainConfig) -> list[str]:
    """The shard dirs of ``cfg`` (train, replay, cooldown) that have no manifest yet."""
    dirs = cfg.data.shards + cfg.data.replay.shards + cfg.data.cooldown_shards
    def has_manifest(d: str) -> bool:
        if "://" not in d:
            return (Path(d) / "manifest.json").exists()
        path = f"{d.rstrip('/')}/manifest.json"
        return filesystem(path).exists(path)

    return [d for d in dirs if not has_manifest(d)]


def open_data(cfg: TrainConfig, sampler: Schedulers, *, rank: int, world_size: int, device: torch.device,
              loader=None, val_loader=None, replay_loader=None, cooldown_loader=None) -> TrainData:
    """The loaders ``cfg.data`` names, opened on the shards, unless ``loader`` is given (tests pass
    fakes, and then every loader they want). A ``val_loader`` given alone replaces the shards' own
    held-out windows (``datamill ablate`` scores every arm on the same fixed windows)."""
    if loader is None:
        kw = dict(rank=rank, world_size=world_size)
        loader = open_loader(cfg, cfg.data.shards, "train", seed=cfg.seed, sampler=sampler, **kw)
        if val_loader is None and cfg.data.val_batches:
            val_loader = open_loader(cfg, cfg.data.shards, "val", seed=cfg.seed, **kw)
        if cfg.data.replay.shards:
            replay_loader = open_loader(cfg, cfg.data.replay.shards, "train", seed=cfg.seed + 1, **kw)
        if cfg.data.cooldown_shards:
            cooldown_loader = open_loader(cfg, cfg.data.cooldown_shards, "train", seed=cfg.seed + 2, **kw)
    return TrainData(loader, val_loader, replay_loader, cooldown_loader, replay_rate=cfg.data.replay.rate,
                     seed=cfg.seed, rank=rank, device=device, doc_attention=cfg.model.doc_attention)


def open_loader(cfg: TrainConfig, shards: list[str], split: str, *, rank: int, world_size: int,
                seed: int, sampler: Schedulers | None = None) -> ShardLoader:
    weights = cfg.data.weights or None
    loader = ShardLoader(shards, seq_len=cfg.data.seq_len, batch_size=cfg.data.batch_size, seed=seed,
                         weights=weights if split == "train" else None, split=split,
                         val_fraction=cfg.data.val_fraction, rank=rank, world_size=world_size,
                         sampler=sampler, verify="size" if split == "val" else "full")  # hashed once
    if split == "val":  # every source equally represented, so each gets a stable loss
        loader.set_weights({s: 1.0 for s in loader.sources})
    return loader
