"""Throughput of paragraph_dedup on a few thousand real documents, with exact_dedup beside it.

Corpus: the web-trafilatura pages' main text (html_to_text), CPython's documentation
(the quickstart corpus) and ~2 KB windows of the QuALITY/Gutenberg stories, in that order.
Two figures, repeats interleaved:
- end to end: the stage's plan on an in-process Dask cluster with one worker thread, over
  ``--parts`` partitions (both shuffles included), wall seconds;
- per step: process CPU time of each per-partition step in this process (one thread).

    .venv/bin/python benchmarks/paragraph_dedup_speed.py [--repeats 5] [--parts 8]

Writes benchmarks/results/paragraph_dedup_speed.json (every repeat).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

pa.set_cpu_count(1)
pa.set_io_thread_count(1)

from datamill.partitions import Partitions, PlanContext  # noqa: E402
from datamill.pipeline.io.html import html_to_text  # noqa: E402
from datamill.pipeline.pydocs import python_docs  # noqa: E402
from datamill.stages.exact_dedup import ExactDedup  # noqa: E402
from datamill.stages.paragraph_dedup import ParagraphDedup, normalise  # noqa: E402
from filters_quality_data import DATA, book_docs  # noqa: E402  (this script's folder)
from record import Record  # noqa: E402  (this script's folder)


def web_pages() -> list[dict]:
    src = DATA / "web-trafilatura"
    index = json.loads((src / "evaldata.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        files = {p.name: p for p in Path(tmp).rglob("*") if p.is_file()}
        rows = []
        for url, entry in sorted(index.items()):
            if entry["file"] in files:
                text = html_to_text(files[entry["file"]].read_bytes().decode("utf-8", "replace"), url=url)
                if text:
                    rows.append({"id": url, "text": text})
    return rows


def corpus() -> pa.Table:
    rows = web_pages()
    rows += [{"id": d["id"], "text": d["text"]} for d in python_docs()]
    rows += [{"id": f"book-{k:05d}", "text": t} for k, t in enumerate(book_docs())]
    return pa.Table.from_pylist(rows)


def split(table: pa.Table, n: int) -> list[pa.Table]:
    step = -(-table.num_rows // n)
    return [table.slice(k, step) for k in range(0, table.num_rows, step)]


def end_to_end(client, stage, parts: list[pa.Table]) -> float:
    start = time.perf_counter()
    inputs = Partitions(client, client.scatter(parts, hash=False), name="in")
    ctx = PlanContext(stage_name="bench", stage_dir=".", client=client)
    out = stage.plan(ctx, inputs).gather()
    assert sum(t.num_rows for t in out) == sum(t.num_rows for t in parts)
    return time.perf_counter() - start


def cpu(fn, *args) -> float:
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--parts", type=int, default=8)
    args = p.parse_args(argv)
    rec = Record("paragraph_dedup_speed", command="PYTHONPATH=. python benchmarks/paragraph_dedup_speed.py "
                 + " ".join(argv), params=vars(args), packages=["pyarrow", "dask", "distributed"],
                 note="per step: process CPU time, one thread; end to end: wall seconds, one Dask worker thread")
    from distributed import Client, LocalCluster

    table = corpus()
    parts = split(table, args.parts)
    n = table.num_rows
    stage, exact = ParagraphDedup(), ExactDedup()
    normalise("warm up the fold table")
    records = [stage._records(i, t) for i, t in enumerate(parts)]
    marks = stage._decide(records)
    back = [marks.filter(pc.equal(marks.column("part"), i)) for i in range(len(parts))]
    texts = table.column("text").to_pylist()
    print(f"{n} documents, {sum(len(stage.units(t)[0]) for t in texts)} lines, "
          f"{sum(len(t) for t in texts) / n:.0f} chars/doc mean, "
          f"{sum(r.num_rows for r in records)} unit records, {len(set(marks.column('hash').to_pylist()))} boilerplate units, "
          f"{marks.num_rows} (doc, unit) removals")
    steps = {
        "paragraph_dedup: hash records": lambda: [stage._records(i, t) for i, t in enumerate(parts)],
        "paragraph_dedup: decide (all buckets as one)": lambda: stage._decide(records),
        "paragraph_dedup: rewrite texts": lambda: [stage._apply(t, b) for t, b in zip(parts, back)],
        "exact_dedup: hash records": lambda: [exact._hashes(i, t) for i, t in enumerate(parts)],
    }
    times: dict[str, list[float]] = {k: [] for k in [*steps, "paragraph_dedup end to end", "exact_dedup end to end"]}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            Client(cl) as client:
        for _ in range(args.repeats):
            for name, fn in steps.items():
                times[name].append(cpu(fn))
            times["paragraph_dedup end to end"].append(end_to_end(client, stage, parts))
            times["exact_dedup end to end"].append(end_to_end(client, exact, parts))
    for name, ts in times.items():
        rec.figure("docs_per_s", [n / t for t in ts], unit="docs/s", step=name,
                   corpus="web-trafilatura+python-docs+squality")
    rec.details(docs=n)
    rec.write()
    print(f"\n{args.repeats} interleaved repeats, {len(parts)} partitions\n")
    print("| step | docs/s (median) | min | max |\n| --- | ---: | ---: | ---: |")
    for name, ts in times.items():
        print(f"| {name} | {n / statistics.median(ts):,.0f} | {n / max(ts):,.0f} | {n / min(ts):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
