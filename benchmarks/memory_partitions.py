"""Peak memory as the input grows: partitions are bounded, so a worker's peak RSS should not
follow the corpus size.

Runs read (jsonl) -> clean_text -> length_filter -> exact_dedup on a synthetic corpus at each
size, on a fresh Dask LocalCluster of worker processes whose memory limit is below the largest
corpus, and samples the RSS of the driver (which hosts the scheduler) and of every worker
process (psutil, every 20 ms). Prints a Markdown table and one JSON line.

    python benchmarks/memory_partitions.py          # 24 MB and 240 MB, with and without exact_dedup
    python benchmarks/memory_partitions.py --sizes 2 20 --partition-mb 0.5 --workers 1 \
        --stages clean_text,length_filter --json    # what tests/reliability/test_resources.py runs

With --record, writes benchmarks/results/memory_partitions.json: every repeat of every
(pipeline, size) run, the runs of one repeat taking turns.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402  (this script's folder)

DOC_WORDS = 350  # ~2 KB documents, like the MinHash and filter benchmarks (results/minhash.md, results/filters.md)


def write_corpus(directory: Path, megabytes: float, file_mb: float = 8.0, seed: int = 0) -> int:
    """Documents of real words (CPython's own docs) recombined at random: unique, dedup-able text."""
    from datamill.pipeline.pydocs import python_docs

    words = " ".join(d["text"] for d in python_docs()[:300]).split()
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    target, written, n, f, k, last = int(megabytes * 2**20), 0, 0, None, 0, ""
    while written < target:
        if f is None or f.tell() >= file_mb * 2**20:
            if f:
                f.close()
            f = open(directory / f"part-{k:04d}.jsonl", "w")
            k += 1
        start = rng.randrange(len(words) - DOC_WORDS)
        text = " ".join(words[start:start + DOC_WORDS])
        if n % 20 == 19:
            text = last  # 5% exact duplicates for the dedup stage to find
        line = json.dumps({"id": f"d{n}", "text": text}) + "\n"
        f.write(line)
        written += len(line)
        last, n = text, n + 1
    f.close()
    return n


class PeakRSS:
    """Peak resident memory of this process and of its child processes, sampled in a thread."""

    def __init__(self, interval: float = 0.02):
        self.interval, self.me = interval, psutil.Process()
        self.peak_driver = self.peak_total = 0
        self.peak_per_child: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[int, int]:
        out = {}
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                out[p.pid] = p.memory_info().rss
            except psutil.Error:
                pass
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.sample()
            self.peak_driver = max(self.peak_driver, rss.pop(self.me.pid, 0))
            self.peak_total = max(self.peak_total, self.peak_driver + sum(rss.values()))
            for pid, r in rss.items():
                self.peak_per_child[pid] = max(self.peak_per_child.get(pid, 0), r)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def measure(corpus_mb: float, partition_mb: float, workers: int, memory_limit_mb: int, tmp: Path,
            stages: tuple[str, ...] = ("clean_text", "length_filter", "exact_dedup")) -> dict:
    from distributed import Client, LocalCluster

    from datamill.pipeline.runner import run_pipeline
    from datamill.pipeline.workers import ReleaseMemoryAfterTasks, worker_settings

    corpus = tmp / f"corpus-{corpus_mb:g}"
    docs = write_corpus(corpus, corpus_mb)
    config = {"name": "mem", "sources": {"web": {"format": "jsonl", "path": str(corpus / "*.jsonl")}},
              "stages": [{"use": s, **({"min_words": 5} if s == "length_filter" else {})} for s in stages],
              "output": str(tmp / f"run-{corpus_mb:g}-{len(stages)}"),
              "execution": {"partition_rows": 10**9, "partition_bytes": int(partition_mb * 2**20)}}
    # The embedded cluster's worker settings, plus a memory limit (at 80% of it Dask pauses a
    # worker: a run that needs more stalls instead of failing).
    with worker_settings(), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, memory_limit=f"{memory_limit_mb}MiB",
                                         silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        client.register_plugin(ReleaseMemoryAfterTasks())
        client.run(lambda: __import__("datamill.catalog"))  # every stage module imported before measuring
        worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
        with PeakRSS() as idle:
            time.sleep(0.5)
        started = time.perf_counter()
        with PeakRSS() as peak:
            result = run_pipeline(config, client=client, progress=False)
        seconds = time.perf_counter() - started
    worker_peaks = [peak.peak_per_child.get(pid, 0) for pid in worker_pids]
    worker_idle = [idle.peak_per_child.get(pid, 0) for pid in worker_pids]
    mb = 2**20
    return {"corpus_mb": round(sum(p.stat().st_size for p in corpus.iterdir()) / mb, 1), "docs": docs,
            "partitions": result.stats["web"]["partitions"], "rows_out": result.stats[stages[-1]]["rows_out"],
            "worker_limit_mb": memory_limit_mb, "worker_idle_mb": round(max(worker_idle) / mb),
            "worker_peak_mb": round(max(worker_peaks) / mb), "driver_peak_mb": round(peak.peak_driver / mb),
            "total_peak_mb": round(peak.peak_total / mb), "seconds": round(seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=float, nargs="+", default=[24, 240], help="corpus sizes in MB")
    p.add_argument("--partition-mb", type=float, default=4.0, help="execution.partition_bytes in MB")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--memory-limit-mb", type=int, default=600, help="Dask memory limit per worker")
    p.add_argument("--stages", nargs="+", default=["clean_text,length_filter", "clean_text,length_filter,exact_dedup"],
                   help="one pipeline per argument: comma-separated stage names")
    p.add_argument("--json", action="store_true", help="only the JSON line")
    p.add_argument("--repeats", type=int, default=1, help="runs of every (pipeline, size), interleaved")
    p.add_argument("--record", action="store_true", help="write results/memory_partitions.json")
    args = p.parse_args()
    rec = Record("memory_partitions", command="python benchmarks/memory_partitions.py " + " ".join(sys.argv[1:]),
                 params=vars(args), packages=["dask", "distributed", "psutil"],
                 note="RSS sampled every 20 ms; wall seconds on a shared machine")
    runs: dict[tuple[str, float], list[dict]] = {(st, s): [] for st in args.stages for s in args.sizes}
    with tempfile.TemporaryDirectory(prefix="datamill-mem-") as tmp:
        for _ in range(args.repeats):
            for stages, size in runs:
                runs[stages, size].append(measure(size, args.partition_mb, args.workers, args.memory_limit_mb,
                                                  Path(tmp), tuple(stages.split(","))))
            if args.record:  # after every repeat: a run cut short still leaves its complete repeats
                write_record(rec, runs)
    results = []
    for stages in args.stages:
        rows = [runs[stages, s][-1] for s in args.sizes]
        growth = {k: round(rows[-1][k] / max(rows[0][k], 1), 2)
                  for k in ("corpus_mb", "seconds", "worker_peak_mb", "driver_peak_mb")}
        work = [r["worker_peak_mb"] - r["worker_idle_mb"] for r in rows]
        growth["worker_above_idle"] = round(work[-1] / max(work[0], 1), 2)
        results.append({"stages": stages, "runs": rows, "growth": growth})
        if not args.json:
            cols = list(rows[0])
            print(f"\nread -> {stages.replace(',', ' -> ')}\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
            for r in rows:
                print("| " + " | ".join(str(r[c]) for c in cols) + " |")
            print(f"\nlargest / smallest (last repeat): {growth}")
    print(json.dumps(results))


def write_record(rec: Record, runs: dict[tuple[str, float], list[dict]]) -> None:
    rec.data["figures"] = []
    for (stages, size), rs in runs.items():
        for key, unit in (("worker_peak_mb", "MB"), ("driver_peak_mb", "MB"), ("seconds", "s")):
            rec.figure(key, [r[key] for r in rs], unit=unit, stages=stages, corpus_mb=size)
    rec.details(runs=[{"stages": st, "size_mb": s, "runs": rs} for (st, s), rs in runs.items()])
    rec.write()


if __name__ == "__main__":
    main()
