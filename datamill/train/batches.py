"""From the shard loader to device tensors: opening loaders (building shards first if asked),
replay mixing, the optional scheduler, and host->device transfer with the document mask."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from datamill.train.config import TrainConfig
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


def make_sampler(spec: dict):
    """A scheduler from ``data.sampler``: ``{"class": "datamill.schedulers.module:Name", **kwargs}``."""
    if not spec:
        return None
    spec = dict(spec)
    target = spec.pop("class", None)
    if not target or ":" not in target:
        raise ValueError(f"data.sampler.class: expected 'module:Name', got {target!r}")
    module, name = target.split(":", 1)
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"data.sampler.class: cannot import {target!r} ({e})") from e
    return cls(**spec)


def ensure_shards(cfg: TrainConfig) -> None:
    """Run ``data.build`` (a pipeline config) when a shard dir has no manifest yet."""
    missing = [d for d in cfg.data.shards + cfg.data.replay.shards + cfg.data.cooldown_shards if not (Path(d) / "manifest.json").exists()]
    if not missing:
        return
    if cfg.data.build is None:
        raise FileNotFoundError(f"data.shards: no manifest.json in {', '.join(missing)} (and no data.build)")
    from datamill.pipeline.runner import run_pipeline  # the engine: only needed to build

    log.info("building shards %s with the pipeline in data.build", ", ".join(missing))
    run_pipeline(cfg.data.build)
    still = [d for d in missing if not (Path(d) / "manifest.json").exists()]
    if still:
        raise FileNotFoundError(f"data.build ran but {', '.join(still)} still has no manifest.json")


def open_loader(cfg: TrainConfig, shards: list[str], split: str, *, rank: int, world_size: int,
                seed: int, sampler=None):
    from datamill.train.data import ShardLoader

    weights = cfg.data.weights or None
    loader = ShardLoader(shards, seq_len=cfg.data.seq_len, batch_size=cfg.data.batch_size, seed=seed,
                         weights=weights if split == "train" else None, split=split,
                         val_fraction=cfg.data.val_fraction, rank=rank, world_size=world_size,
                         sampler=sampler, verify="size" if split == "val" else "full")  # hashed once
    if split == "val":  # every source equally represented, so each gets a stable loss
        loader.set_weights({s: 1.0 for s in loader.sources})
    return loader
