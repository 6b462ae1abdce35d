"""MinHash permutations on a GPU vs numpy on one CPU core, and a bit-identity check.

    PYTHONPATH=. python benchmarks/gpu/minhash.py

Synthetic ~2 KB documents (Zipf-distributed words, seeded), word 5-grams, 128 permutations.
Shingle hashes are computed once on the CPU; the timed part is the permutation + min step
(``permute_min`` vs ``permute_min_torch``), and end to end ``signatures(device=...)``.
Needs torch, numpy, pyarrow and this checkout. Prints one JSON line; writes nothing.
"""

import json
import time

import numpy as np
import torch

from datamill.stages.minhash import signatures as mh
from datamill.stages.minhash.signatures_torch import permute_min_torch


def corpus(n_docs=50_000, seed=0):
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    lengths = rng.integers(300, 380, n_docs)
    words = vocab[np.minimum(rng.zipf(1.2, lengths.sum()) - 1, len(vocab) - 1)]
    cuts = np.cumsum(lengths)[:-1]
    return [" ".join(doc) for doc in np.split(words, cuts)]


def timed(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    texts = corpus()
    values, offsets = mh.shingle_hashes(texts)
    a, b = mh.permutations(128, seed=1)
    n = len(texts)
    permute_min_torch(values[:1000], offsets[:2], a, b, device="cuda")  # warm-up
    gpu_s, gpu = timed(lambda: permute_min_torch(values, offsets, a, b, device="cuda"))
    k = 5000  # CPU reference on a slice (one core)
    cpu_s, cpu = timed(lambda: mh.permute_min(values[: offsets[k]], offsets[: k + 1], a, b), repeats=1)
    identical = bool(np.array_equal(gpu[:k], cpu))
    e2e_s, sig = timed(lambda: mh.signatures(texts, device="cuda"), repeats=1)
    print(json.dumps({
        "device": torch.cuda.get_device_name(), "docs": n, "shingles_per_doc": round(len(values) / n, 1),
        "gpu_permute_docs_per_s": round(n / gpu_s), "cpu_permute_docs_per_s_one_core": round(k / cpu_s),
        "end_to_end_signatures_docs_per_s_gpu": round(n / e2e_s), "identical_to_cpu": identical,
        "identical_end_to_end": bool(np.array_equal(sig[:k], cpu)),
    }))


if __name__ == "__main__":
    main()
