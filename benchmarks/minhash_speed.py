"""MinHash signatures, raw text -> (n, 128) signatures on one core, side by side in one process:
datamill's vectorised path vs datasketch ``MinHash.update()`` per shingle and ``update_batch``,
datasketch fed by datamill's own normaliser and tokenizer, so only hashing and permutation differ.

    .venv/bin/python benchmarks/minhash_speed.py --corpus debian=bench-data/debian-200k \\
        --corpus squality=bench-data/squality-200k --corpus web=bench-data/web-200k

Every path starts from the same raw ~2 KB documents (the first ``--docs`` of the corpus; the
datasketch paths take the first 200 / 1,000) and does the same work (datatrove's normalisation,
word 5-grams, 128 permutations, seed 1). The datasketch paths get their shingles from
``signatures.shingles`` (vectorised normalise + tokenise, then one ``bytes`` per shingle), timed
with them. Throughput is process CPU time (one core; the machine is shared), repeats
interleaved path by path; speedups are per repeat. Accuracy: mean absolute error against exact
Jaccard on 800 overlapping-window pairs of real prose (squality), each path on its shingles.
datamill's compiled kernel (numba) is warmed up before the timed repeats; its one-time cost is
measured apart, in fresh processes with an empty and then a filled numba cache (``kernel_first_call``:
import, then compile or load, of the signature and UTF-8 kernels),
and datamill's time is split into normalisation and the kernel (``stage_time``, 4,096-document
batches). Records ``benchmarks/results/minhash_speed.json`` with ``benchmarks/record.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from datamill.stages.minhash import signatures as mh
from datamill.stages.minhash.shingles import normalize  # noqa: E402
from datamill.whitespace import string_buffers  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test helpers that read ../shared/data
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import Record  # noqa: E402
from tests.stages.shard_corpora import window_pairs  # noqa: E402

CHUNK = 4096  # documents per signatures() call, as minhash_dedup


def datasketch_update(texts, num_perm=128):
    from datasketch import MinHash

    out = []
    for doc in mh.shingles(texts):
        m = MinHash(num_perm=num_perm, seed=1)
        for s in doc:
            m.update(s)
        out.append(m.hashvalues)
    return np.array(out)


def datasketch_batch(texts, num_perm=128):
    from datasketch import MinHash

    out = []
    for doc in mh.shingles(texts):
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(doc)
        out.append(m.hashvalues)
    return np.array(out)


def datamill(texts, num_perm=128, hash="fast"):
    return np.concatenate([mh.signatures(texts[i:i + CHUNK], num_perm=num_perm, hash=hash)
                           for i in range(0, len(texts), CHUNK)])


def front_end(texts):
    return [mh.shingles(texts[i:i + CHUNK]) for i in range(0, len(texts), CHUNK)]


PATHS = {  # impl -> (function, hash, documents timed)
    "datasketch_update": (datasketch_update, "sha1_hash32", 200),
    "datasketch_update_batch": (datasketch_batch, "sha1_hash32", 1000),
    "datamill": (datamill, "fast", None),
    "datamill_hash_datasketch": (lambda t: datamill(t, hash="datasketch"), "sha1_hash32", 2000),
    "shingles_only": (front_end, None, 2000),
}


FIRST_CALL = ("import time; t = time.perf_counter(); from datamill.stages.minhash import signatures as mh; "
              "mh.signatures(['a b c d e f', 'é 1 ü']); print(time.perf_counter() - t)")  # ASCII and UTF-8 kernels


def first_call_seconds(cache_dir: str) -> float:
    """Wall seconds of a fresh process's first ``signatures`` call (numba import + compile or load)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def stage_times(texts) -> dict[str, float]:
    """us/doc (process CPU) of datamill's two steps: normalisation, then the compiled kernel."""
    from datamill.stages.minhash.signature_kernel import signatures_from_buffer

    a, b = mh.permutations(128, 1)
    keys, norm_s, kernel_s = mh.shingle_keys(5), 0.0, 0.0
    for i in range(0, len(texts), CHUNK):
        t0 = time.process_time()
        norm = normalize(texts[i:i + CHUNK], whitespace=False)  # as signatures() for word shingles
        t1 = time.process_time()
        signatures_from_buffer(*string_buffers(norm), char=False, keys=keys, a=a, b=b)
        norm_s, kernel_s = norm_s + t1 - t0, kernel_s + time.process_time() - t1
    return {"normalise": norm_s / len(texts) * 1e6, "kernel": kernel_s / len(texts) * 1e6}


def mae(fn, a, b) -> float:
    exact = np.array([len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(mh.shingles(a), mh.shingles(b))])
    est = (fn(a) == fn(b)).mean(axis=1)
    return float(np.abs(est - exact).mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", action="append", required=True, help="LABEL=PATH (repeatable)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs", type=int, default=20000, help="documents for the datamill path")
    args = ap.parse_args(argv)

    rec = Record("minhash_speed", command="python benchmarks/minhash_speed.py " + " ".join(argv or sys.argv[1:]),
                 params={"docs": args.docs, "num_perm": 128, "ngram": 5, "chunk": CHUNK,
                         "timed_docs": {k: v[2] or args.docs for k, v in PATHS.items()}},
                 packages=["numpy", "pyarrow", "datasketch", "numba"],
                 note="docs/s/core from raw text (process CPU time); datasketch paths include the shared "
                      "front end (signatures.shingles); shingles_only is that front end alone.")
    first: dict[str, list[float]] = {"empty": [], "filled": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:  # compiles and writes the cache, then loads it
            first["empty"].append(first_call_seconds(cache))
            first["filled"].append(first_call_seconds(cache))
    for cache_state, seconds in first.items():
        rec.figure("kernel_first_call", seconds, unit="s wall", numba_cache=cache_state)
    datamill(["warm-up: compile or load the numba kernels once", "é 1 ü"])
    for label, path in (c.split("=", 1) for c in args.corpus):
        table = pq.read_table(sorted(Path(path).glob("part-*.parquet"))[0], columns=["text"])
        texts = table.column("text").to_pylist()[: args.docs]
        rates: dict[str, list[float]] = {k: [] for k in PATHS}
        steps: dict[str, list[float]] = {"normalise": [], "kernel": []}
        for _ in range(args.repeats):
            for name, (fn, _, size) in PATHS.items():
                batch = texts[: size or len(texts)]
                t0 = time.process_time()
                fn(batch)
                rates[name].append(len(batch) / (time.process_time() - t0))
            for step, us in stage_times(texts).items():
                steps[step].append(us)
        chars = float(np.mean([len(t) for t in texts]))
        shingles = float(np.mean([len(s) for s in mh.shingles(texts[:2000])]))
        for name, (_, hash, _) in PATHS.items():
            rec.figure("signatures" if hash else "shingles_front_end", rates[name], unit="docs/s/core",
                       corpus=label, impl=name, **({"hash": hash} if hash else {}), mean_chars=round(chars, 1),
                       mean_shingles=round(shingles, 1))
        for step, us in steps.items():
            rec.figure("stage_time", us, unit="us/doc", corpus=label, impl="datamill", stage=step)
        for base in ("datasketch_update", "datasketch_update_batch"):
            ratios = [x / y for x, y in zip(rates["datamill"], rates[base])]
            rec.figure("speedup", ratios, unit="x", corpus=label, impl="datamill", baseline=base)
        print(label, {k: round(float(np.median(v))) for k, v in rates.items()}, flush=True)
        rec.write()  # after every corpus: a cut-off leaves what finished
    a, b = window_pairs(Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data")))
    for name, fn in (("datamill", datamill), ("datamill_hash_datasketch", PATHS["datamill_hash_datasketch"][0]),
                     ("datasketch_update_batch", datasketch_batch)):
        rec.figure("mae_vs_exact_jaccard", [mae(fn, a, b)], unit="jaccard", corpus="squality-window-pairs",
                   impl=name, pairs=len(a))
    rec.write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
