"""Davidson toxicity classifier: held-out ROC-AUC and transfer to web text, with and without
``--normalize`` and class balancing (same split, same fastText settings, side by side).

    .venv/bin/python benchmarks/filters_toxicity_ablation.py [--pages runs/web-pages/pages.jsonl.gz]

The web side scores the trafilatura pages (HTML -> text, first 300 pages; build the file with
benchmarks/filters_web_pages.py) and their sentences, and reports the share above Dolma's 0.4.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from datamill.filters import fasttext_model, fit_classifier
from datamill.filters.toxicity_filter import SENTENCE
from datamill.pipeline.io.html import html_to_text

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--pages", default=str(ROOT / "runs" / "web-pages" / "pages.jsonl.gz"))
    p.add_argument("--n-pages", type=int, default=300)
    args = p.parse_args(argv)
    texts, labels = fit_classifier.read_labelled(str(DATA / "toxicity-davidson" / "labeled_data.csv"),
                                                 "tweet", "class")
    pages = []
    with gzip.open(args.pages, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = html_to_text(row["html"], row["url"])
            if text:
                pages.append(text)
            if len(pages) >= args.n_pages:
                break
    sentences = [m.group() for t in pages for m in SENTENCE.finditer(t)]
    tmp = Path(tempfile.mkdtemp())
    print(f"{len(pages)} pages, {len(sentences)} sentences")
    print("| normalize | balance | held-out ROC-AUC | pages > 0.4 | sentences > 0.4 |")
    print("| --- | --- | ---: | ---: | ---: |")
    for normalize in (False, True):
        for balance in (False, True):
            out = tmp / f"m-{normalize}-{balance}.bin"
            report = fit_classifier.fit(texts, labels, {"0", "1"}, "toxic", str(out), balance=balance,
                                        normalize=normalize, hyper={"bucket": 200_000})
            model = fasttext_model.load(str(out))
            page_p = fasttext_model.label_proba(model, fasttext_model.one_line(pages, normalize), "__label__toxic")
            sent_p = fasttext_model.label_proba(model, fasttext_model.one_line(sentences, normalize),
                                                "__label__toxic")
            print(f"| {normalize} | {balance} | {report['held_out']['roc_auc']:.3f} | "
                  f"{np.mean(page_p > 0.4):.1%} | {np.mean(sent_p > 0.4):.1%} |")
            out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
