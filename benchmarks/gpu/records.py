"""Turn the GPU scripts' printed JSON into ``benchmarks/record.py`` records.

One function per GPU row, used twice: by ``run_all.py`` on a fresh run, and by
``import_2026_11_26.py`` on the outputs committed under ``results/gpu-2026-11-26/``. The GPU
scripts print medians only where they say so (embeddings, schedulers); those figures then have a
single value and the record's note says what it is.
"""

from __future__ import annotations

import json
import re

from benchmarks.record import Record
from datamill.train.optim import flops_per_token, mfu

PEAK_TFLOPS = 989.0  # dense bf16, H100 SXM / H200 (docs/PERFORMANCE.md, MFU convention)
LAYERS, D_MODEL, SEQ_LEN = 12, 768, 1024  # configs/train-124m.yaml, as benchmarks/gpu/trainer.py runs it


def json_lines(text: str) -> list[dict]:
    """Every line of ``text`` that is a JSON object (the scripts also print logs)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{") and line.rstrip().endswith("}")]


def minhash(rec: Record, out: dict) -> None:
    """benchmarks/gpu/minhash.py: one timed run each (the script's own repeats are not printed)."""
    rec.figure("permute_docs_per_s", [out["gpu_permute_docs_per_s"]], unit="docs/s", impl="gpu")
    rec.figure("permute_docs_per_s", [out["cpu_permute_docs_per_s_one_core"]], unit="docs/s", impl="cpu-one-core")
    rec.figure("signatures_docs_per_s", [out["end_to_end_signatures_docs_per_s_gpu"]], unit="docs/s", impl="gpu")
    rec.details(**{k: out[k] for k in ("device", "docs", "shingles_per_doc", "identical_to_cpu",
                                       "identical_end_to_end")})


def embeddings(rec: Record, out: dict) -> None:
    """benchmarks/gpu/embeddings.py: every run where it printed them (``runs``), else its medians."""
    for impl, key in (("datamill", "datamill_docs_per_s"), ("sentence-transformers-bs32", "st_encode_bs32_docs_per_s"),
                      ("sentence-transformers-bs256", "st_encode_bs256_docs_per_s"),
                      ("forward-only", "forward_only_docs_per_s"), ("tokenize-only", "tokenize_only_docs_per_s")):
        rec.figure("docs_per_s", out.get("runs", {}).get(key) or [out[key]], unit="docs/s", impl=impl)
    rec.details(**{k: out[k] for k in ("device", "docs", "chars_per_doc", "max_length", "batch_size",
                                       "tokenizer_processes", "min_cosine_vs_st") if k in out})


def trainer_pairs(rec: Record, runs: list[dict], datamill_run: str = "base") -> None:
    """nanoGPT and datamill tokens/s, one pair per nanoGPT run and the datamill run after it."""
    pairs = []
    for i, r in enumerate(runs):
        if r.get("run") == "nanogpt":
            after = next((s for s in runs[i + 1:] if s.get("run") in (datamill_run, "nanogpt")), None)
            if after and after["run"] == datamill_run and "tokens_per_s" in after:
                pairs.append((r, after))
    for k, impl in enumerate(("nanogpt", "datamill")):
        side = [p[k] for p in pairs]
        rec.figure("tokens_per_s", [r["tokens_per_s"] for r in side], unit="tokens/s", impl=impl, runs="paired")
        # MFU from tokens/s and the parameter count, nanoGPT's formula (as trainer.py reports it)
        rec.figure("mfu", [mfu(r["tokens_per_s"], flops_per_token(r["params"], LAYERS, D_MODEL, SEQ_LEN), PEAK_TFLOPS)
                           for r in side], unit="fraction", impl=impl, runs="paired")


def train_loop(rec: Record, log: str, doc_attention: str) -> None:
    """``datamill train`` log: tok/s and MFU of every logged interval after the first (compile)."""
    steps = re.findall(r"step (\d+)/\d+ \| loss [\d.]+ \| lr \S+ \| (\d+) tok/s \| MFU ([\d.]+)%", log)
    steps = steps[1:]
    rec.figure("tokens_per_s", [int(t) for _, t, _ in steps], unit="tokens/s", doc_attention=doc_attention)
    rec.figure("mfu", [float(m) / 100 for _, _, m in steps], unit="fraction", doc_attention=doc_attention)
    final = json_lines(log)
    if final:
        rec.details(**{f"{doc_attention}_final": {k: final[-1][k] for k in ("loss", "val_loss") if k in final[-1]}})


def schedulers(rec: Record, out: dict) -> None:
    """benchmarks/gpu/schedulers.py: medians of its repeats, as printed."""
    rec.figure("step_s", [out["step_s_plain"]], unit="s", impl="plain")
    rec.figure("step_s", [out["step_s_norm_test"]], unit="s", impl="norm-test-every-step")
    rec.figure("norm_test_overhead", [out["norm_test_overhead"]], unit="fraction")
    rec.figure("var_rel_err", [out["var_rel_err"]], unit="fraction")
    rec.details(**{k: out[k] for k in ("device", "params_m", "tokens_per_step", "curriculum_ms_per_call_1m_docs")
                   if k in out})

