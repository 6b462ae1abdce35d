"""Trainer throughput on one GPU: datamill's 124M Llama-style model vs nanoGPT's GPT-2 124M, side by
side in one process, same GPU, same synthetic data path, both bf16 autocast + torch.compile + fused
AdamW, batch 32 x 1024, gradient clipping 1.0. Prints one JSON line (tokens/s, MFU, step time).

The datamill side runs the real trainer code: ``Transformer`` + ``configure_optimizer`` +
``loop.train_step`` with the model and optimizer settings of ``configs/train-124m.yaml``.
The nanoGPT side runs nanoGPT's ``GPT`` with ``configure_optimizers`` and the inner loop of its
``train.py`` (autocast forward, backward, clip, step, zero_grad).

nanoGPT's ``model.py`` is NOT part of this repository. It was fetched (with the project's
``read_file`` tool: karpathy/nanoGPT ``model.py``) into the git-ignored
``bench-data/nanogpt/model.py``; carry that path to the GPU machine.

Run (repo root, checkout on PYTHONPATH; needs only torch, numpy, pyarrow):
    PYTHONPATH=. python benchmarks/gpu/trainer.py              # H100/H200, ~2-3 min with compile
    PYTHONPATH=. python benchmarks/gpu/trainer.py --tiny       # CPU self-check of the script

MFU = tokens/s * (6N + 12*L*d*T) / (989e12 dense bf16, H100 SXM / H200), nanoGPT's formula
(docs/PERFORMANCE.md, "Trainer MFU convention").
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import statistics
import time
from pathlib import Path

import torch

from datamill.train.batches import Micro
from datamill.train.config import load_config
from datamill.train.loop import train_step
from datamill.train.model import Transformer, doc_mask
from datamill.train.optim import configure_optimizer, flops_per_token, mfu
from datamill.train.setup import autocast

ROOT = Path(__file__).resolve().parents[2]
NANOGPT = ROOT / "bench-data" / "nanogpt" / "model.py"


def load_nanogpt():
    if not NANOGPT.exists():
        raise SystemExit(f"{NANOGPT} is missing: fetch karpathy/nanoGPT model.py there (see this file's header)")
    spec = importlib.util.spec_from_file_location("nanogpt_model", NANOGPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthetic_batches(n: int, B: int, T: int, vocab: int, device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator(device=device).manual_seed(0)
    out = []
    for _ in range(n):
        x = torch.randint(0, vocab, (B, T + 1), device=device, generator=g)
        out.append((x[:, :-1].contiguous(), x[:, 1:].contiguous()))
    return out


def timed(step, batches, warmup: int, steps: int, device) -> dict:
    """Median step time over ``steps`` after ``warmup`` (the first warmup step compiles)."""
    t0 = time.perf_counter()
    for i in range(warmup):
        loss = step(*batches[i % len(batches)])
    loss = float(loss)  # sync
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(steps):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step(*batches[i % len(batches)])
            end.record()
            times.append((start, end))
        else:
            t = time.perf_counter()
            float(step(*batches[i % len(batches)]))
            times.append(time.perf_counter() - t)
    if device.type == "cuda":
        torch.cuda.synchronize()
        times = [s.elapsed_time(e) / 1000 for s, e in times]
    return {"step_s": statistics.median(times), "warmup_s": round(compile_s, 1), "loss_after_warmup": round(loss, 3)}


def synthetic_doc_ids(B: int, T: int, mean_len: int, device) -> torch.Tensor:
    """(B, T) int32 segment ids of packed documents with geometric lengths (mean ``mean_len``)."""
    g = torch.Generator().manual_seed(1)
    starts = (torch.rand(B, T, generator=g) < 1.0 / mean_len).int()
    starts[:, 0] = 0
    return starts.cumsum(1).to(torch.int32).to(device)


def run_datamill(cfg, B, T, vocab, device, compile_, batches, warmup, steps, doc_attention=None, keep_step=None):
    """``doc_attention`` set: packed documents with a block-diagonal mask built every step, as
    the loop's ``to_device`` does. ``keep_step``: a dict that receives the step function."""
    torch.manual_seed(0)
    mcfg = cfg.model.resolved(vocab, T)
    model = Transformer(mcfg).to(device)
    opt = configure_optimizer(model, cfg.optim, device)
    run = torch.compile(model, options=cfg.compile_options or None) if compile_ else model
    amp = autocast(device, "bf16")
    doc_ids = synthetic_doc_ids(B, T, 256, device) if doc_attention else None

    def step(x, y):
        mask = doc_mask(doc_ids, doc_attention) if doc_attention else None
        loss, _ = train_step(run, opt, [Micro(x, y, None, mask)], grad_clip=cfg.optim.grad_clip, amp=amp)
        return loss

    check = {}
    if doc_attention:  # the compiled masked path must give the loss of the eager dense-mask path
        x, y = batches[0]
        with torch.no_grad(), amp():
            ref = float(model(x, y, None, doc_mask(doc_ids, "sdpa_mask")))
        got = float(step(x, y))  # the first training step's loss, same weights
        check = {"first_loss": round(got, 5), "eager_sdpa_mask_loss": round(ref, 5)}
    res = timed(step, batches, warmup, steps, device)
    if keep_step is not None:
        keep_step["step"] = step
    res.update(check)
    res["params"] = model.num_params()
    res["fpt"] = flops_per_token(res["params"], mcfg.n_layer, mcfg.d_model, T)
    return res


def run_nanogpt(B, T, vocab, layers, heads, d, device, compile_, batches, warmup, steps, keep_step=None):
    ng = load_nanogpt()
    torch.manual_seed(0)
    model = ng.GPT(ng.GPTConfig(block_size=T, vocab_size=vocab, n_layer=layers, n_head=heads, n_embd=d,
                                dropout=0.0, bias=False)).to(device)  # nanoGPT train.py: bias=False
    opt = model.configure_optimizers(0.1, 6e-4, (0.9, 0.95), device.type)
    run = torch.compile(model) if compile_ else model
    ctx = autocast(device, "bf16")  # torch.autocast("cuda", dtype=torch.bfloat16), as train.py

    def step(x, y):  # train.py's inner loop (gradient_accumulation_steps=1, bf16: no grad scaler)
        with ctx():
            _, loss = run(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    res = timed(step, batches, warmup, steps, device)
    if keep_step is not None:
        keep_step["step"] = step
    res["params"] = model.get_num_params()
    res["fpt"] = flops_per_token(res["params"], layers, d, T)
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--config", default=str(ROOT / "configs" / "train-124m.yaml"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--tiny", action="store_true", help="a 2-layer model on CPU: checks the script runs")
    p.add_argument("--peak-tflops", type=float, default=989.0)
    p.add_argument("--doc-mask", default="flex", help="also time packed documents with this doc_attention "
                   "(flex | sdpa_mask | none to skip); skipped when the first two runs took > --budget-s")
    p.add_argument("--budget-s", type=float, default=150.0)
    args = p.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    if device.type == "cpu" and args.doc_mask == "flex":
        args.doc_mask = "sdpa_mask"  # FlexAttention has no backward on CPU
    torch.backends.cuda.matmul.allow_tf32 = True  # as nanoGPT's train.py
    torch.backends.cudnn.allow_tf32 = True
    cfg = load_config(args.config)
    if args.tiny:
        cfg.model.n_layer, cfg.model.n_head, cfg.model.d_model, cfg.data.seq_len = 2, 4, 64, 64
        args.batch, vocab = 4, 512
    else:
        vocab = 50304  # GPT-2's 50257 padded, as nanoGPT
    B, T, m = args.batch, cfg.data.seq_len, cfg.model
    batches = synthetic_batches(4, B, T, vocab, device)
    compile_ = not args.no_compile and not args.tiny
    out = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__,
           "batch": B, "seq_len": T, "compile": compile_, "bf16": device.type == "cuda", "steps": args.steps}
    started = time.perf_counter()
    graphs_before = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    runs = ["nanogpt", "datamill"] + ([f"datamill_docs_{args.doc_mask}"] if args.doc_mask != "none" else [])
    for name in runs:
        if name.startswith("datamill_docs") and time.perf_counter() - started > args.budget_s:
            out[name] = "skipped: over the time budget"
            continue
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        if name == "nanogpt":
            r = run_nanogpt(B, T, vocab, m.n_layer, m.n_head, m.d_model, device, compile_, batches, args.warmup,
                            args.steps)
        elif name == "datamill":
            r = run_datamill(cfg, B, T, vocab, device, compile_, batches, args.warmup, args.steps)
        else:
            try:  # the optional packed-documents run must not lose the two numbers above
                r = run_datamill(cfg, B, T, vocab, device, compile_, batches, args.warmup, args.steps,
                                 doc_attention=args.doc_mask)
            except Exception as e:  # noqa: BLE001 - reported in the JSON line
                out[name] = f"failed: {type(e).__name__}: {str(e)[:300]}"
                continue
        graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        r["compiled_graphs"] = graphs - graphs_before  # > a few would mean recompiles every step
        graphs_before = graphs
        tps = B * T / r["step_s"]
        out[name] = {"tokens_per_s": round(tps), "mfu": round(mfu(tps, r.pop("fpt"), args.peak_tflops), 4),
                     "step_ms": round(1000 * r.pop("step_s"), 2), **r}
        if device.type == "cuda":
            out[name]["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        torch._dynamo.reset()
        gc.collect()
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["ratio_tokens_per_s"] = round(out["datamill"]["tokens_per_s"] / out["nanogpt"]["tokens_per_s"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
