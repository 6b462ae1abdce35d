"""A Llama-style decoder: RMSNorm, rotary position embeddings, SwiGLU, optional grouped-query attention.

Numerically the same function as Hugging Face's ``LlamaForCausalLM`` (RoPE in the "rotate half"
layout), so export is a renaming. Attention is PyTorch SDPA:
the flash kernel when no document boundaries are given; with boundaries, a block-diagonal causal
mask (dense for SDPA, or a FlexAttention block mask) keeps tokens from attending across documents.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from datamill.train.config import ModelConfig


def rope_tables(cfg: ModelConfig, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin: (seq_len, head_dim) float32, Hugging Face Llama's default rotary layout."""
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
    freqs = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)  # (T, hd/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: (..., hd), bf16 under autocast; cos/sin broadcast against it, float32, cast as HF does
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        # Three projections, not one fused qkv matmul, and RoPE applied before the head transpose:
        # inductor's backward kernel that joined the rotated q/k gradients back into a fused qkv
        # gradient, across the transpose, cost 0.5 ms a layer at 124M on an H200
        # (benchmarks/results/trainer.md).
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_head * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.proj = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)

    def heads(self, x, cos, sin):
        """q (B, H, T, hd), k and v (B, Hkv, T, hd), with RoPE applied to q and k."""
        B, T, _ = x.shape
        hd = self.head_dim
        cos, sin = cos[:, None], sin[:, None]  # (T, 1, hd): broadcast over heads
        q = apply_rope(self.q_proj(x).view(B, T, self.n_head, hd), cos, sin).transpose(1, 2)
        k = apply_rope(self.k_proj(x).view(B, T, self.n_kv_head, hd), cos, sin).transpose(1, 2)
        return q, k, self.v_proj(x).view(B, T, self.n_kv_head, hd).transpose(1, 2)

    def forward(self, x, cos, sin, attn_mask=None):
        B, T, _ = x.shape
        hd = self.head_dim
        q, k, v = self.heads(x, cos, sin)
        if attn_mask is not None and not isinstance(attn_mask, torch.Tensor):  # a FlexAttention BlockMask
            from torch.nn.attention.flex_attention import flex_attention

            y = flex_attention(q, k, v, block_mask=attn_mask, enable_gqa=self.n_kv_head != self.n_head)
        else:
            if self.n_kv_head != self.n_head:  # repeat k/v heads (what HF's repeat_kv does)
                rep = self.n_head // self.n_kv_head
                k = k[:, :, None].expand(B, self.n_kv_head, rep, T, hd).reshape(B, self.n_head, T, hd)
                v = v[:, :, None].expand(B, self.n_kv_head, rep, T, hd).reshape(B, self.n_head, T, hd)
            if attn_mask is None:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # flash kernel on GPU
            else:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(y.transpose(1, 2).reshape(B, T, self.n_head * hd))


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        # Separate gate and up matmuls: the backward of one fused [gate; up] matmul's split was a
        # 0.3 ms-a-layer copy kernel at 124M on an H200 (benchmarks/results/trainer.md).
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x, cos, sin, attn_mask=None):
        x = x + self.attn(self.attn_norm(x), cos, sin, attn_mask)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.n_head % cfg.n_kv_head:
            raise ValueError(f"model: n_head ({cfg.n_head}) must be a multiple of n_kv_head ({cfg.n_kv_head})")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        cos, sin = rope_tables(cfg, cfg.max_seq_len)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GPT-2 / nanoGPT: N(0, 0.02), residual output projections scaled by 1/sqrt(2 * n_layer)
        std = self.cfg.init_std
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(("attn.proj.weight", "mlp.down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=std / math.sqrt(2 * self.cfg.n_layer))
            else:
                nn.init.normal_(p, mean=0.0, std=std)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # tied weights count once

    def forward(self, idx, targets=None, loss_mask=None, attn_mask=None):
        """idx, targets: (B, T) int64; loss_mask: (B, T) float or None; attn_mask from doc_mask().
        Returns the mean loss over unmasked targets when targets are given, else logits (B, T, V)."""
        T = idx.shape[1]
        x = self.embed(idx)  # (B, T, C)
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        for layer in self.layers:
            x = layer(x, cos, sin, attn_mask)
        logits = self.lm_head(self.norm(x))  # (B, T, V)
        if targets is None:
            return logits
        flat = logits.float().view(-1, logits.shape[-1])
        if loss_mask is None:
            return F.cross_entropy(flat, targets.reshape(-1))
        ce = F.cross_entropy(flat, targets.reshape(-1), reduction="none")
        mask = loss_mask.reshape(-1).to(ce.dtype)
        return (ce * mask).sum() / mask.sum().clamp(min=1.0)  # an all-prefix block gives 0, not NaN


def doc_mask(doc_ids: torch.Tensor | None, kind: str):
    """Attention mask keeping tokens inside their document, for ``kind``: "sdpa_mask" (dense bool,
    (B, 1, T, T), True = attend), "flex" (a FlexAttention BlockMask) or "none" (None: plain causal).
    None when every row is one document (the flash path)."""
    if doc_ids is None or kind == "none":
        return None
    B, T = doc_ids.shape
    if kind == "flex":
        from torch.nn.attention.flex_attention import create_block_mask

        def same_doc_causal(b, h, q_idx, kv_idx):
            return (q_idx >= kv_idx) & (doc_ids[b, q_idx] == doc_ids[b, kv_idx])

        return create_block_mask(same_doc_causal, B, None, T, T, device=doc_ids.device)
    if kind != "sdpa_mask":
        raise ValueError(f"model.doc_attention: expected sdpa_mask | flex | none, got {kind!r}")
    causal = torch.ones(T, T, dtype=torch.bool, device=doc_ids.device).tril()
    same = doc_ids[:, :, None] == doc_ids[:, None, :]  # (B, T, T)
    return (same & causal)[:, None]
