"""GPU check for the schedulers: the norm test's gradient-hook overhead and its variance estimate.

A GPT-2-small-sized datamill Transformer (124M, seq 1024, bf16 autocast), 4 micro-batches of 8
per optimizer step through the trainer's own ``train_step``: step time without hooks vs with
``NormTest`` attached (measuring every step, the worst case), side by side in one process,
medians of repeats; then the hook-based Var and ||G||^2 against brute force (each micro-batch's
gradient computed on its own). Also the curriculum hook's cost per call on a 1M-document index.

Run: PYTHONPATH=. python benchmarks/gpu/schedulers.py   (--small: a CPU smoke test)
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext

import numpy as np
import pyarrow as pa
import torch

from datamill.schedulers import Curriculum, NormTest
from datamill.train.batches import Micro
from datamill.train.config import ModelConfig
from datamill.train.loop import train_step
from datamill.train.model import Transformer


def _micros(n, batch, seq, vocab, device, gen):
    out = []
    for _ in range(n):
        x = torch.randint(0, vocab, (batch, seq + 1), generator=gen).to(device)
        out.append(Micro(x[:, :-1].contiguous(), x[:, 1:].contiguous(), None))
    return out


def _time_steps(model, opt, micros, amp, steps, sync, before=None):
    times = []
    for s in range(steps):
        if before is not None:
            before(s)
        sync()
        t0 = time.perf_counter()
        train_step(model, opt, micros, grad_clip=1.0, amp=amp)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[2:])  # the first steps warm up kernels and allocators


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true", help="a tiny model on CPU (smoke test)")
    args = ap.parse_args()
    cuda = torch.cuda.is_available() and not args.small
    device = torch.device("cuda" if cuda else "cpu")
    if args.small:
        cfg, batch, seq, steps = dict(n_layer=2, n_head=2, d_model=64), 4, 64, 6
    else:
        cfg, batch, seq, steps = dict(n_layer=12, n_head=12, d_model=768), 8, 1024, 12
    vocab, accum = 50304, 4
    mcfg = ModelConfig(**cfg, doc_attention="none").resolved(vocab, seq)
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else nullcontext
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    micros = _micros(accum, batch, seq, vocab, device, gen)
    result = {"device": torch.cuda.get_device_name() if cuda else "cpu", "params_m": None,
              "tokens_per_step": accum * batch * seq}

    torch.manual_seed(0)
    plain = Transformer(mcfg).to(device)
    result["params_m"] = round(plain.num_params() / 1e6, 1)
    opt = torch.optim.AdamW(plain.parameters(), lr=1e-4, fused=cuda)
    t_plain = _time_steps(plain, opt, micros, amp, steps, sync)
    torch.manual_seed(0)
    hooked = Transformer(mcfg).to(device)
    opt = torch.optim.AdamW(hooked.parameters(), lr=1e-4, fused=cuda)
    test = NormTest(eta=0.1, start=accum, max_accum=accum)
    test.attach(hooked)
    t_hooked = _time_steps(hooked, opt, micros, amp, steps, sync, before=test.grad_accum)
    test.grad_accum(steps)  # the last step's test: one host sync, once per step
    result.update(step_s_plain=round(t_plain, 4), step_s_norm_test=round(t_hooked, 4),
                  norm_test_overhead=round(t_hooked / t_plain - 1, 4), last_test=test.history[-1])

    # the estimate against brute force on the same weights (fp32 here: the check is about the algebra)
    grads = []
    for m in micros:
        hooked.zero_grad(set_to_none=True)
        hooked(m.input_ids, m.targets).backward()
        grads.append(torch.cat([p.grad.flatten().double() for p in hooked.parameters()]))
    g = torch.stack(grads)
    mean = g.mean(0)
    var_bf = float(((g - mean) ** 2).sum() / (accum - 1))
    hooked.zero_grad(set_to_none=True)
    check = NormTest(eta=0.1, start=accum, max_accum=accum)
    check.attach(hooked)
    check.grad_accum(0)
    train_step(hooked, torch.optim.SGD(hooked.parameters(), lr=0.0), micros, grad_clip=0.0, amp=nullcontext)
    check.grad_accum(1)
    rec = check.history[-1]
    result.update(var_rel_err=abs(rec["var"] - var_bf) / var_bf,
                  grad_sq_rel_err=abs(rec["grad_sq"] - float((mean ** 2).sum())) / float((mean ** 2).sum()))

    n = 10_000 if args.small else 1_000_000
    rng = np.random.default_rng(0)
    index = pa.table({"length": rng.integers(10, 5000, n).astype(np.int32), "quality_score": rng.random(n)})
    cur = Curriculum(column="quality_score", length=1000, start=0.1)
    cur.doc_probabilities("web", index, 0)  # builds the CDF once
    t0 = time.perf_counter()
    for s in range(20):
        cur.doc_probabilities("web", index, s * 10)
    result["curriculum_ms_per_call_1m_docs" if not args.small else "curriculum_ms_per_call"] = \
        round((time.perf_counter() - t0) / 20 * 1e3, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
