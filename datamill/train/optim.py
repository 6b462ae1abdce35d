"""Optimizer, learning-rate schedules and the FLOPs/MFU arithmetic."""

from __future__ import annotations

import math

import torch

from datamill.train.config import OptimConfig


def warmup_steps(o: OptimConfig, total: int) -> int:
    return o.warmup_steps if o.warmup_steps > 0 else round(o.warmup_fraction * total)


def lr_at(step: int, total: int, o: OptimConfig) -> float:
    """LR for optimizer step ``step`` (0-based) of ``total``: linear warmup, then cosine to
    ``min_lr_ratio * lr``, or WSD (constant, then a 1-sqrt decay over the last ``decay_fraction``),
    or constant. A pure function of the step, so resuming needs no scheduler object."""
    warm = warmup_steps(o, total)
    if step < warm:
        return o.lr * (step + 1) / (warm + 1)  # nanoGPT's warmup
    min_lr = o.lr * o.min_lr_ratio
    if o.schedule == "constant":
        return o.lr
    if o.schedule == "cosine":
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (o.lr - min_lr)
    if o.schedule == "wsd":
        decay_start = max(warm, total - round(o.decay_fraction * total))
        if step < decay_start:
            return o.lr
        progress = min(1.0, (step - decay_start) / max(1, total - decay_start))
        return min_lr + (o.lr - min_lr) * (1.0 - math.sqrt(progress))
    raise ValueError(f"optim.schedule: expected cosine | wsd | constant, got {o.schedule!r}")


def configure_optimizer(model: torch.nn.Module, o: OptimConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices and embeddings only (not norms), fused kernel on GPU."""
    params = [p for p in model.parameters() if p.requires_grad]  # tied weights appear once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, **extra)


def flops_per_token(n_params: int, n_layer: int, d_model: int, seq_len: int) -> float:
    """Training FLOPs per token, 6N + 12·L·d·T (PaLM appendix B; nanoGPT's estimate_mfu)."""
    return 6.0 * n_params + 12.0 * n_layer * d_model * seq_len


def mfu(tokens_per_s: float, fpt: float, peak_tflops: float, world_size: int = 1) -> float:
    return tokens_per_s * fpt / (peak_tflops * 1e12 * world_size)
