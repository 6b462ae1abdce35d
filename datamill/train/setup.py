"""Where a run executes: one process or one per GPU under torchrun, its device and autocast, and the
model it trains (fresh, or a Hugging Face checkpoint to continue pretraining)."""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from datamill.train.config import TrainConfig
from datamill.train.model import Transformer


@dataclass
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def setup_distributed(device: str) -> Dist:
    """One process, or one per GPU under torchrun (RANK/WORLD_SIZE/LOCAL_RANK set)."""
    kind = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(0, 1, 0, torch.device(kind))
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    if kind == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if kind == "cuda" else "gloo")
    return Dist(rank, world, local, torch.device(kind, local) if kind == "cuda" else torch.device(kind))


def barrier(world_size: int) -> None:
    if world_size > 1:
        import torch.distributed as dist

        dist.barrier()


def autocast(device: torch.device, precision: str):
    """A context-manager factory: bf16 autocast on GPU, nothing on CPU (fp32 there)."""
    if device.type == "cuda" and precision == "bf16":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext


def build_model(cfg: TrainConfig, vocab_size: int, device: torch.device) -> Transformer:
    if cfg.model.doc_attention == "flex" and device.type != "cuda":
        raise ValueError("model.doc_attention: flex needs a CUDA device (FlexAttention has no CPU backward); "
                         "use sdpa_mask on CPU")
    if not cfg.model.init_from:
        return Transformer(cfg.model.resolved(vocab_size, cfg.data.seq_len)).to(device)
    from datamill.train.hf_export import load_hf

    model = load_hf(cfg.model.init_from, doc_attention=cfg.model.doc_attention, min_seq_len=cfg.data.seq_len)
    if model.cfg.vocab_size < vocab_size:
        raise ValueError(f"model.init_from: {cfg.model.init_from} has vocab {model.cfg.vocab_size} < the shards' "
                         f"{vocab_size}: the shards must use the checkpoint's tokenizer")
    return model.to(device)
