"""D4 embedding throughput on one GPU: datamill's embedder vs sentence-transformers ``encode()``.

    python benchmarks/gpu/embeddings.py bench-data/minilm-fp16 [--docs 100000] [--st-docs 10000]

MODEL_DIR is a sentence-transformers directory (make one with export_minilm_fp16.py). Documents
are synthetic passages of ~1,300 characters that all reach the 256-token cut (the model's
``max_seq_length``); ``--texts FILE`` (one document per line) uses real text instead. Measured
side by side in one process, medians of ``--repeats``:

- datamill: ``datamill.stages.semantic.encoders.Embedder.embed`` (the code the ``embed``/``semdedup``/``d4``
  stages run): tokenizer processes ahead of the GPU, fp16 forward, mean pooling, L2 norm, to host;
- sentence-transformers ``encode()`` on the same model in fp16, its default batch size 32 and 256;
- forward only: ``Embedder.encode_tensors`` on pre-tokenized batches already on the GPU;
- tokenize only: the same tokenizer processes with no model, i.e. the host's ceiling.

Prints one JSON line. Needs torch, transformers, sentence-transformers, numpy, pyarrow.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np


def synthetic_texts(tokenizer_json: str, n_unique: int, words: int, seed: int = 0) -> list[str]:
    """Sentences of whole-word vocabulary entries (Zipf-weighted), capitalised and punctuated."""
    vocab = json.load(open(tokenizer_json))["model"]["vocab"]
    pool = sorted(w for w in vocab if w.isalpha() and w.isascii() and 2 <= len(w) <= 6)
    rng = np.random.default_rng(seed)
    pool = np.array(pool)[rng.permutation(len(pool))]
    weights = 1.0 / np.arange(1, len(pool) + 1)
    idx = rng.choice(len(pool), size=(n_unique, words), p=weights / weights.sum())
    texts = []
    for row in idx:
        ws = pool[row].tolist()
        for k in range(0, words, 12):  # a sentence every 12 words
            ws[k] = ws[k].capitalize()
            ws[min(k + 11, words - 1)] += "."
        texts.append(" ".join(ws))
    return texts


def rate(fn, n: int, repeats: int, runs: list, budget_s: float = 20.0) -> float:
    """n / median seconds of up to ``repeats`` runs (fewer once ``budget_s`` is spent); every
    run's docs/s is appended to ``runs``."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        runs.append(n / times[-1])
        if sum(times) > budget_s:
            break
    return n / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--st-docs", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--workers", type=int, default=-1, help="tokenizer processes (-1: cores - 2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--texts", help="one document per line instead of synthetic passages")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from datamill.stages.semantic.encoders import Embedder, tokenize_batch

    started = time.perf_counter()
    if args.texts:
        unique = [line.strip() for line in open(args.texts, encoding="utf-8") if line.strip()]
    else:
        unique = synthetic_texts(os.path.join(args.model_dir, "tokenizer.json"), 20_000, 240)
    texts = (unique * (args.docs // len(unique) + 1))[:args.docs]

    emb = Embedder(args.model_dir, max_length=args.max_length, batch_size=args.batch_size,
                   device=args.device, tokenizer_workers=args.workers)
    emb.embed(texts[:args.batch_size * 4])  # start the tokenizer processes, warm CUDA
    _, lengths = tokenize_batch(emb.tokenizer, unique[:2000], args.max_length)
    result = {
        "device": torch.cuda.get_device_name() if emb.device.type == "cuda" else "cpu",
        "torch": torch.__version__, "docs": len(texts), "chars_per_doc": float(np.mean([len(t) for t in unique])),
        "tokens_per_doc": float(lengths.mean()), "max_length": args.max_length,
        "batch_size": args.batch_size, "tokenizer_processes": emb.processes, "runs": {},
    }
    runs = result["runs"]
    vectors = {}

    def run_datamill():
        vectors["datamill"] = emb.embed(texts)

    result["datamill_docs_per_s"] = rate(run_datamill, len(texts), args.repeats,
                                         runs.setdefault("datamill_docs_per_s", []))

    pool = emb._executor()  # tokenization alone, same processes and batches
    batches = [texts[i:i + args.batch_size] for i in range(0, len(texts), args.batch_size)]

    def run_tokenize():
        for _ in pool.map(emb._tokenize, batches):
            pass

    result["tokenize_only_docs_per_s"] = rate(run_tokenize, len(texts), max(1, args.repeats - 1),
                                              runs.setdefault("tokenize_only_docs_per_s", []))

    ids, lens = tokenize_batch(emb.tokenizer, texts[:args.batch_size], args.max_length)
    ids_t = torch.from_numpy(ids).to(emb.device).long()
    len_t = torch.from_numpy(lens).to(emb.device)
    steps = 50

    def run_forward():
        for _ in range(steps):
            emb.encode_tensors(ids_t, len_t)
        if emb.device.type == "cuda":
            torch.cuda.synchronize()

    run_forward()
    result["forward_only_docs_per_s"] = rate(run_forward, steps * len(ids), args.repeats,
                                             runs.setdefault("forward_only_docs_per_s", []))

    st = SentenceTransformer(args.model_dir, device=args.device)
    if emb.device.type == "cuda":
        st.half()
    st.max_seq_length = args.max_length
    sub = texts[:args.st_docs]
    st.encode(sub[:1024], batch_size=256)  # warm up
    for bs in (32, 256):
        def run_st(bs=bs):
            vectors[f"st{bs}"] = st.encode(sub, batch_size=bs, normalize_embeddings=True,
                                           convert_to_numpy=True)
        key = f"st_encode_bs{bs}_docs_per_s"
        result[key] = rate(run_st, len(sub), 1, runs.setdefault(key, []))
    best_st = max(result["st_encode_bs32_docs_per_s"], result["st_encode_bs256_docs_per_s"])
    result["speedup_vs_st_best"] = result["datamill_docs_per_s"] / best_st
    cos = (vectors["datamill"][:len(sub)] * vectors["st256"].astype(np.float32)).sum(axis=1)
    result["min_cosine_vs_st"] = float(cos.min())
    result["seconds_total"] = time.perf_counter() - started
    emb.close()
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))  # runs: unrounded


if __name__ == "__main__":
    main()
