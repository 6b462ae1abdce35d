"""MinHash signatures, raw text -> (n, 128) signatures on one core, side by side in one process:
datamill's vectorised path vs datasketch ``MinHash.update()`` per shingle and ``update_batch``.

    .venv/bin/python benchmarks/minhash_speed.py --corpus bench-data/debian-20k

All paths see the same ~2 KB Debian documents and do the same work (lowercase, drop
punctuation, digits -> 0, word 5-grams, 128 permutations, seed 1); the datasketch paths get a
plain-Python normaliser as their front end (what a datasketch user writes). Throughput is
process CPU time (one core, the others are shared), the median of ``--repeats`` interleaved
runs. Accuracy: mean absolute error against exact Jaccard on 800 overlapping-window pairs of
real prose (squality) for every path. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from datamill.stages.minhash import signatures as mh

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers that read ../shared/data
from tests.stages.shard_corpora import window_pairs  # noqa: E402
_PUNCT = re.compile(r"[^\w\s]+")
_DIGITS = re.compile(r"\d+")


def python_shingles(text: str, n: int = 5) -> list[bytes]:
    words = _DIGITS.sub("0", _PUNCT.sub("", text.lower())).split()
    if 0 < len(words) < n:
        return [" ".join(words).encode()]
    return [" ".join(words[i:i + n]).encode() for i in range(len(words) - n + 1)]


def datasketch_update(texts, num_perm=128):
    from datasketch import MinHash

    out = []
    for text in texts:
        m = MinHash(num_perm=num_perm, seed=1)
        for s in python_shingles(text):
            m.update(s)
        out.append(m.hashvalues)
    return np.array(out)


def datasketch_batch(texts, num_perm=128):
    from datasketch import MinHash

    out = []
    for text in texts:
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(python_shingles(text))
        out.append(m.hashvalues)
    return np.array(out)


def datamill(texts, num_perm=128, hash="fast", chunk=4096):
    return np.concatenate([mh.signatures(texts[i:i + chunk], num_perm=num_perm, hash=hash)
                           for i in range(0, len(texts), chunk)])


PATHS = {"datasketch_update": datasketch_update, "datasketch_update_batch": datasketch_batch,
         "datamill_fast": datamill, "datamill_hash_datasketch": lambda t: datamill(t, hash="datasketch")}


def mae(fn, a, b, shingle_fn) -> float:
    exact = []
    for x, y in zip(a, b):
        sx, sy = set(shingle_fn(x)), set(shingle_fn(y))
        exact.append(len(sx & sy) / len(sx | sy))
    est = (fn(a) == fn(b)).mean(axis=1)
    return float(np.abs(est - np.array(exact)).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench-data" / "debian-20k")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--docs", type=int, default=20000, help="documents for the datamill paths")
    args = ap.parse_args(argv)

    table = pq.read_table(sorted(args.corpus.glob("part-*.parquet"))[0])
    texts = table.column(table.schema.names[1]).to_pylist()[: args.docs]
    sizes = {"datasketch_update": 200, "datasketch_update_batch": 1000,
             "datamill_fast": len(texts), "datamill_hash_datasketch": 2000}
    rates: dict[str, list[float]] = {k: [] for k in PATHS}
    for _ in range(args.repeats):
        for name, fn in PATHS.items():
            batch = texts[: sizes[name]]
            t0 = time.process_time()
            fn(batch)
            rates[name].append(len(batch) / (time.process_time() - t0))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    a, b = window_pairs(ROOT.parent / "shared" / "data")
    errors = {"datamill_fast": mae(datamill, a, b, lambda t: mh.shingles([t])[0]),
              "datamill_hash_datasketch": mae(lambda t: datamill(t, hash="datasketch"), a, b,
                                              lambda t: mh.shingles([t])[0]),
              "datasketch_update_batch": mae(datasketch_batch, a, b, python_shingles)}
    print(json.dumps({
        "docs_per_s_per_core": {k: round(v) for k, v in med.items()},
        "speedup_vs_update": round(med["datamill_fast"] / med["datasketch_update"], 1),
        "speedup_vs_update_batch": round(med["datamill_fast"] / med["datasketch_update_batch"], 1),
        "mean_chars": round(float(np.mean([len(t) for t in texts])), 1),
        "mae_vs_exact_jaccard": {k: round(v, 4) for k, v in errors.items()},
        "repeats": args.repeats,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
