"""datatrove's MinHash pipeline on the Debian corpus, for the side-by-side with minhash_dedup.

Runs in its OWN virtualenv (never the project's):

    python3 -m venv /work/bench-venv-datatrove
    /work/bench-venv-datatrove/bin/pip install datatrove spacy pyarrow psutil
    /work/bench-venv-datatrove/bin/python benchmarks/minhash_datatrove.py --corpus bench-data/debian-50k

Equivalent settings to ``minhash_dedup preset=fineweb``: word 5-grams, 14 buckets x 8 hashes,
datatrove's own text normalisation, 2 workers, LocalPipelineExecutor, its 4 stages (signatures,
buckets, cluster, filter) timed one by one. ``--tokenizer whitespace`` swaps datatrove's
default spaCy word tokenizer for ``str.split`` (not its default; results/minhash.md measures both).
Prints one JSON line with per-stage wall seconds, peak RSS and recall on the planted pairs.
``--pairs FILE`` ({"a": [...], "b": [...]}, written by ``minhash_recall.py``) skips the pipeline
and scores datatrove's own shingles and signatures on those pairs alone (``--precision`` 64 or 32,
``--seed`` of the permutations).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
from peak_rss import PeakRSS  # benchmarks/ is on sys.path when run as a script


def whitespace_tokenizer():
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Whitespace(WordTokenizer):
        def word_tokenize(self, text):
            return text.split()

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            raise NotImplementedError

    return Whitespace("en")


def score_pairs(path: Path, precision: int, seed: int = 1) -> int:
    """Pair recall (any of 14 bands equal), exact Jaccard of datatrove's shingle hashes and the
    S-curve's prediction from it, on text pairs."""
    import numpy as np
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    from datatrove.utils.hashing import HashConfig

    pairs = json.loads(path.read_text())
    config = MinhashConfig(hash_config=HashConfig(precision=precision), num_buckets=14, hashes_per_bucket=8, n_grams=5,
                           seed=seed)
    step = MinhashDedupSignature(output_folder=str(path.parent / "dt-pairs"), config=config,
                                 language=whitespace_tokenizer())
    exact, hit = [], []
    for x, y in zip(pairs["a"], pairs["b"]):
        sx, sy = step.get_shingles(x), step.get_shingles(y)
        u, v = set(sx.ravel().tolist()), set(sy.ravel().tolist())
        exact.append(len(u & v) / max(1, len(u | v)))
        hit.append(any(p == q for p, q in zip(step.get_signature(sx), step.get_signature(sy))))
    exact = np.array(exact)
    print(json.dumps({"pair_recall": float(np.mean(hit)), "mean_jaccard": float(exact.mean()),
                      "s_curve": float((1 - (1 - exact**8) ** 14).mean()), "precision": precision,
                      "seed": seed}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--pairs", type=Path, help="score these text pairs only (no pipeline)")
    ap.add_argument("--precision", type=int, choices=[32, 64], default=64)
    ap.add_argument("--seed", type=int, default=1, help="seed of the permutations (--pairs only)")
    ap.add_argument("--work", type=Path, default=Path("bench-data/runs/datatrove"))
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tokenizer", choices=["default", "whitespace"], default="default")
    args = ap.parse_args(argv)
    if args.pairs:
        return score_pairs(args.pairs, args.precision, args.seed)

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig
    shutil.rmtree(args.work, ignore_errors=True)
    w = args.work
    config = MinhashConfig(hash_config=HashConfig(precision=64), num_buckets=14, hashes_per_bucket=8, n_grams=5)
    language = whitespace_tokenizer() if args.tokenizer == "whitespace" else "en"

    def reader():
        return ParquetReader(str(args.corpus.resolve()), glob_pattern="part-*.parquet", text_key="text", id_key="id")

    stages = {
        "signatures": LocalPipelineExecutor(
            pipeline=[reader(), MinhashDedupSignature(output_folder=str(w / "sigs"), config=config, language=language)],
            tasks=args.tasks, workers=args.workers, logging_dir=str(w / "logs/sigs")),
        "buckets": LocalPipelineExecutor(
            pipeline=[MinhashDedupBuckets(input_folder=str(w / "sigs"), output_folder=str(w / "buckets"), config=config)],
            tasks=config.num_buckets, workers=args.workers, logging_dir=str(w / "logs/buckets")),
        "cluster": LocalPipelineExecutor(
            pipeline=[MinhashDedupCluster(input_folder=str(w / "buckets"), output_folder=str(w / "remove"), config=config)],
            tasks=1, logging_dir=str(w / "logs/cluster")),
        "filter": LocalPipelineExecutor(
            pipeline=[reader(), MinhashDedupFilter(input_folder=str(w / "remove")),
                      ParquetWriter(str(w / "out"))],
            tasks=args.tasks, workers=args.workers, logging_dir=str(w / "logs/filter")),
    }
    seconds = {}
    with PeakRSS() as rss:
        for name, executor in stages.items():
            t0 = time.perf_counter()
            executor.run()
            seconds[name] = round(time.perf_counter() - t0, 1)
    kept = set()
    for f in (w / "out").rglob("*.parquet"):
        kept.update(str(i) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())
    truth = pq.read_table(args.corpus / "truth.parquet").to_pylist()
    caught = sum(1 for r in truth if r["id"] not in kept or r["source_id"] not in kept)
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in args.corpus.glob("part-*.parquet"))
    planted = {r["id"] for r in truth} | {r["source_id"] for r in truth}
    print(json.dumps({"tool": "datatrove", "tokenizer": args.tokenizer, "corpus": str(args.corpus), "docs": n_docs,
                      "workers": args.workers, "tasks": args.tasks, "stage_s": seconds,
                      "wall_s": round(sum(seconds.values()), 1), "cpu_s": round(sum(rss.cpu.values()), 1),
                      "load_avg_1m": round(os.getloadavg()[0], 1), "peak_rss_gb": round(rss.peak / 2**30, 2),
                      "recall": caught / len(truth), "removed": n_docs - len(kept),
                      "removed_not_planted": n_docs - len(kept) - sum(1 for i in planted if i not in kept)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
