"""Where the datamill 124M step spends its time next to nanoGPT's: a CUDA kernel profile of each,
and timed variants of the datamill model, all in one process on one GPU.

Variants are patches applied to the model for one run (then undone); they located the gap (the
runs of 2026-11-26 in results/trainer.md also tried the fused qkv and gate/up projections and the
RoPE after the head transpose that the model had then):
  base          the trainer as shipped
  bf16_ce       cross-entropy on the autocast (bf16) logits, as nanoGPT, instead of ``logits.float()``
  rope_roll     rotate-half as ``x.roll`` with the sign folded into sin
  rope_fn       RoPE as an autograd.Function whose backward is the inverse rotation
  coord_descent inductor's coordinate-descent tuning of kernel launch configs
  nd_tiling     inductor's prefer_nd_tiling (N-D tiles for transposing pointwise kernels)
  no_rope       diagnostic only (changes the model): attention without RoPE
  gelu_mlp      diagnostic only: nanoGPT's GELU MLP (4d hidden) in place of SwiGLU, same parameters
  a+b           both patches

Run (repo root; carry bench-data/nanogpt/model.py):
    PYTHONPATH=. python benchmarks/gpu/trainer_profile.py --out $OUT/trainer_profile.jsonl
Each result is appended to --out as one JSON line the moment it is measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import trainer as bench  # noqa: E402 - benchmarks/gpu/trainer.py

from datamill.train import model as dm  # noqa: E402
from datamill.train.config import load_config  # noqa: E402


def _bf16_ce_forward(self, idx, targets=None, loss_mask=None, attn_mask=None):
    T = idx.shape[1]
    x = self.embed(idx)
    cos, sin = self.rope_cos[:T], self.rope_sin[:T]
    for layer in self.layers:
        x = layer(x, cos, sin, attn_mask)
    logits = self.lm_head(self.norm(x))
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def _rope_roll(x, cos, sin):
    """rotate-half as a roll, with the sign folded into sin: no slices for autograd to pad back."""
    half = x.shape[-1] // 2
    sin_signed = torch.cat((-sin[..., :half], sin[..., half:]), dim=-1)
    return x * cos.to(x.dtype) + x.roll(half, dims=-1) * sin_signed.to(x.dtype)


class _RopeFn(torch.autograd.Function):
    """RoPE with its backward written out: the inverse rotation, rope(grad, cos, -sin)."""

    @staticmethod
    def forward(ctx, x, cos, sin):
        ctx.save_for_backward(cos, sin)
        return _ROPE_BASE(x, cos, sin)

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.saved_tensors
        return _ROPE_BASE(grad, cos, -sin), None, None


_ROPE_BASE = dm.apply_rope


class GeluMLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d, bias=False)
        self.c_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


@contextmanager
def patched(variant: str):
    import torch._inductor.config as inductor

    saved = {"fwd": dm.Transformer.forward, "rope": dm.apply_rope,
             "swiglu": dm.SwiGLU,
             "cdt": inductor.coordinate_descent_tuning, "nd": getattr(inductor.triton, "prefer_nd_tiling", None)}
    try:
        for part in variant.split("+"):  # "a+b": both patches
            if part == "bf16_ce":
                dm.Transformer.forward = _bf16_ce_forward
            elif part == "rope_roll":
                dm.apply_rope = _rope_roll
            elif part == "rope_fn":
                dm.apply_rope = _RopeFn.apply
            elif part == "coord_descent":
                inductor.coordinate_descent_tuning = True
            elif part == "nd_tiling":
                inductor.triton.prefer_nd_tiling = True
            elif part == "no_rope":
                dm.apply_rope = lambda x, cos, sin: x
            elif part == "gelu_mlp":
                dm.SwiGLU = lambda cfg: GeluMLP(cfg.d_model)
            elif part != "base":
                raise SystemExit(f"unknown variant {part!r}")
        yield
    finally:
        dm.Transformer.forward, dm.apply_rope = saved["fwd"], saved["rope"]
        dm.SwiGLU = saved["swiglu"]
        inductor.coordinate_descent_tuning = saved["cdt"]
        if saved["nd"] is not None:
            inductor.triton.prefer_nd_tiling = saved["nd"]


def kernel_profile(step, batches, n_steps: int, top: int) -> dict:
    """Self CUDA time per kernel over ``n_steps`` steps (ms per step), the top ``top`` kernels
    and totals by kind."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(n_steps):
            step(*batches[i % len(batches)])
        torch.cuda.synchronize()
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = getattr(e, "self_cuda_time_total", 0)
        if us > 0:
            rows.append((e.key, us / 1000 / n_steps, e.count // n_steps))
    rows.sort(key=lambda r: -r[1])
    kinds: dict[str, float] = {}
    for name, ms, _ in rows:
        low = name.lower()
        kind = ("gemm" if any(k in low for k in ("gemm", "cutlass", "sm90_xmma", "nvjet", "matmul")) else
                "attention" if any(k in low for k in ("flash", "fmha", "attention")) else
                "optimizer" if any(k in low for k in ("adam", "multi_tensor", "foreach")) else
                "triton" if "triton" in low else "other")
        kinds[kind] = kinds.get(kind, 0.0) + ms
    return {"total_ms": round(sum(r[1] for r in rows), 2), "by_kind_ms": {k: round(v, 2) for k, v in kinds.items()},
            "top": [[n[:90], round(ms, 3), c] for n, ms, c in rows[:top]]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", default="base,nd_tiling,coord_descent")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--profile-steps", type=int, default=3)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--profile", default="nanogpt,base", help="runs to profile")
    p.add_argument("--tiny", action="store_true", help="CPU self-check: 2 layers, no compile, no profile")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    cfg = load_config(str(bench.ROOT / "configs" / "train-124m.yaml"))
    B, vocab = 32, 50304
    if args.tiny:
        cfg.model.n_layer, cfg.model.n_head, cfg.model.d_model, cfg.data.seq_len = 2, 4, 64, 64
        B, vocab = 4, 512
    T, compile_ = cfg.data.seq_len, not args.tiny
    batches = bench.synthetic_batches(4, B, T, vocab, device)

    def emit(record: dict) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")

    emit({"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__})
    profile_steps = 0 if args.tiny else args.profile_steps
    for name in ["nanogpt"] + args.variants.split(","):
        started = time.perf_counter()
        holder: dict = {}
        if name == "nanogpt":
            r = bench.run_nanogpt(B, T, vocab, cfg.model.n_layer, cfg.model.n_head, cfg.model.d_model, device,
                                  compile_, batches, args.warmup, args.steps, keep_step=holder)
        else:
            try:  # one failing variant must not lose the others
                with patched(name):
                    r = bench.run_datamill(cfg, B, T, vocab, device, compile_, batches, args.warmup, args.steps,
                                           keep_step=holder)
            except Exception as e:  # noqa: BLE001 - reported in the JSON line
                emit({"run": name, "failed": f"{type(e).__name__}: {str(e)[:300]}"})
                torch._dynamo.reset()
                continue
        tps = B * T / r["step_s"]
        rec = {"run": name, "tokens_per_s": round(tps), "step_ms": round(1000 * r["step_s"], 2),
               "warmup_s": r["warmup_s"], "loss_after_warmup": r["loss_after_warmup"], "params": r["params"]}
        if device.type == "cuda":
            rec["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
            if profile_steps and name in args.profile.split(","):
                try:
                    rec["profile"] = kernel_profile(holder["step"], batches, profile_steps, args.top)
                except Exception as e:  # noqa: BLE001 - the timings above must survive
                    rec["profile"] = f"failed: {type(e).__name__}: {e}"
        rec["seconds"] = round(time.perf_counter() - started, 1)
        emit(rec)
        holder.clear()
        torch._dynamo.reset()
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
