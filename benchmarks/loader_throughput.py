"""ShardLoader tokens/s against a bare memmap reader, side by side in one process.

Writes synthetic shards in the real format (lognormal document lengths, mean ~600 tokens,
half the documents with an 8-token MeCo prefix, 3 sources, 64M-token files), then times:

  raw       random (seq_len + 1)-token windows sliced from one uint16 memmap into an int64
            (B, T + 1) array: the anchor of docs/PERFORMANCE.md, "Anchors"; no masks
  loader    ShardLoader.next_batch(), random order, weights by tokens (masks, segments, sources)
  strip     the same in MeCo cooldown mode (prefixes cut out: more pieces per window)
  weighted  explicit source weights (stride scheduling) and 8 data-parallel ranks' schedule

Each repeat times --batches batches of every configuration in turn (interleaved); tokens =
B × T per batch. Writes benchmarks/results/loader_throughput.json (every repeat).

    python benchmarks/loader_throughput.py --tokens 100_000_000 --batch 32 --seq-len 1024
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record import Record  # noqa: E402
from datamill import shards as fmt  # noqa: E402
from datamill.train.data import ShardLoader  # noqa: E402


def write_synthetic(out: Path, tokens: int, vocab: int = 32000, per_shard: int = 1 << 26, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lengths = np.maximum(2, rng.lognormal(mean=6.0, sigma=1.0, size=tokens // 300)).astype(np.int64)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), tokens)]
    prefix = np.where(rng.random(len(lengths)) < 0.5, 8, 0)
    lengths = np.maximum(lengths, prefix + 2)
    sources = np.array(["web", "books", "code"])[rng.integers(0, 3, len(lengths))]
    eos = vocab - 1
    (out / fmt.TOKENIZER).write_text("{}")
    entries, start, k = [], 0, 0
    while start < len(lengths):
        stop = start + max(1, int(np.searchsorted(np.cumsum(lengths[start:]), per_shard, "right")))
        n = lengths[start:stop]
        order = np.argsort(sources[start:stop], kind="stable")
        n, src, pre = n[order], sources[start:stop][order], prefix[start:stop][order]
        toks = rng.integers(0, vocab - 1, int(n.sum()), dtype=np.uint16)
        offsets = np.cumsum(n) - n
        toks[offsets + n - 1] = eos
        index = pa.table({"id": [f"{k}-{i}" for i in range(len(n))],
                          "id_hash": pa.array(rng.integers(0, 2**63, len(n)).astype(np.uint64)),
                          "source": src, "offset": offsets, "length": n.astype(np.int32),
                          "prefix_len": pre.astype(np.int32)})
        entries.append(fmt.write_shard(out, f"{k:05d}-000", toks, index))
        start, k = stop, k + 1
    fmt.write_manifest(out, {"tokenizer": {"file": fmt.TOKENIZER, "sha256": None, "vocab_size": vocab,
                                           "eos_id": eos}, "dtype": "uint16", "shards": entries})


def interleaved(fns: dict, batches: int, repeats: int, tokens_per_batch: int) -> dict[str, list[float]]:
    """tokens/s of every configuration per repeat, the configurations taking turns."""
    for fn in fns.values():
        fn()  # warm-up: page cache, permutations
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(batches):
                fn()
            rates[name].append(batches * tokens_per_batch / (time.perf_counter() - t))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=100_000_000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--trainer-tokens-per-s", type=float, default=500_000)  # docs/PERFORMANCE.md, "Anchors": a 124M model on one H100/H200
    args = ap.parse_args()
    rec = Record("loader_throughput", command="python benchmarks/loader_throughput.py " + " ".join(sys.argv[1:]),
                 params=vars(args), packages=["numpy", "pyarrow"])
    B, T = args.batch, args.seq_len
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        write_synthetic(out, args.tokens)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        loader = ShardLoader([tmp], seq_len=T, batch_size=B, val_fraction=0.0, verify="full")
        open_s = time.perf_counter() - t0
        mm = loader._mmaps[0]
        rng = np.random.default_rng(0)

        def raw():
            starts = rng.integers(0, len(mm) - T - 1, B)
            return np.stack([mm[s:s + T + 1] for s in starts]).astype(np.int64)

        strip = ShardLoader([tmp], seq_len=T, batch_size=B, val_fraction=0.0, strip_metadata=True, verify="none")
        weighted = ShardLoader([tmp], seq_len=T, batch_size=B, val_fraction=0.0, verify="none", rank=3,
                               world_size=8, weights={"web": 0.5, "books": 0.3, "code": 0.2})
        rates = interleaved({"raw": raw, "loader": loader.next_batch, "strip": strip.next_batch,
                             "weighted": weighted.next_batch}, args.batches, args.repeats, B * T)
    for name, r in rates.items():
        rec.figure("tokens_per_s", r, unit="tokens/s", impl=name)
    rec.details(write_s=round(write_s, 2), open_verify_s=round(open_s, 2))
    rec.write()
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(json.dumps({f"{k}_Mtok_s": round(v / 1e6, 1) for k, v in med.items()}
                     | {f"{k}_vs_trainer": round(v / args.trainer_tokens_per_s, 1) for k, v in med.items()}))


if __name__ == "__main__":
    main()
