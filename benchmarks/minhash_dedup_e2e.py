"""End-to-end MinHash dedup through ``run_pipeline`` on the Debian corpus, scored against the
planted near-copies (``benchmarks/make_debian_corpus.py``).

    .venv/bin/python benchmarks/minhash_dedup_e2e.py --corpus bench-data/debian-1m --workers 2

Prints one JSON line: wall seconds (read -> signatures -> LSH -> components -> filtered
write), peak RSS of the whole process tree (driver + Dask workers, sampled every 0.2 s),
recall on planted pairs and the number of removed documents that were not planted copies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from peak_rss import PeakRSS  # benchmarks/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]


def score(corpus: Path, kept_ids: set[str]) -> dict:
    """A planted pair is caught when at least one of its two documents was removed."""
    truth = pq.read_table(corpus / "truth.parquet").to_pylist()
    planted = {r["id"] for r in truth} | {r["source_id"] for r in truth}
    caught = sum(1 for r in truth if r["id"] not in kept_ids or r["source_id"] not in kept_ids)
    n_docs = sum(pq.ParquetFile(p).metadata.num_rows for p in corpus.glob("part-*.parquet"))
    removed_unplanted = n_docs - len(kept_ids) - sum(1 for i in planted if i not in kept_ids)
    return {"planted_pairs": len(truth), "recall": caught / len(truth),
            "removed": n_docs - len(kept_ids), "removed_not_planted": removed_unplanted}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench-data" / "debian-1m")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-data" / "runs" / "minhash-e2e")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preset", default="fineweb")
    ap.add_argument("--set", action="append", default=[], help="extra stages.near.KEY=VALUE overrides")
    args = ap.parse_args(argv)

    from datamill.pipeline.io import read_stage
    from datamill.pipeline.runner import run_pipeline

    shutil.rmtree(args.out, ignore_errors=True)
    names = pq.ParquetFile(next(args.corpus.glob("part-*.parquet"))).schema_arrow.names
    fields = {"id_field": "doc_id" if "doc_id" in names else "id",
              "text_field": "content" if "content" in names else "text"}
    config = {
        "name": "minhash-e2e",
        "sources": {"debian": {"format": "parquet", "path": str(args.corpus / "part-*.parquet"), **fields}},
        "stages": {"near": {"use": "minhash_dedup", "input": "debian", "preset": args.preset}},
        "output": str(args.out),
    }
    overrides = [f"stages.near.{kv}" for kv in args.set]
    with PeakRSS() as rss:
        start = time.perf_counter()
        result = run_pipeline(config, workers=args.workers, overrides=overrides, progress=False)
        wall = time.perf_counter() - start
    kept = read_stage(args.out, "near").column("id")
    report = {"corpus": str(args.corpus), "workers": args.workers, "preset": args.preset, "set": args.set,
              "wall_s": round(wall, 1), "cpu_s": round(sum(rss.cpu.values()), 1),
              "stage_wall_s": {k: round(v, 1) for k, v in
                               json.loads((args.out / "run.json").read_text())["stage_seconds"].items()},
              "load_avg_1m": round(os.getloadavg()[0], 1), "peak_rss_gb": round(rss.peak / 2**30, 2),
              **score(args.corpus, set(pc.cast(kept, "string").to_pylist())),
              "stage_stats": result.stats.get("near", {}).get("extra", {})}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
