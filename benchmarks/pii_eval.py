"""Precision and recall of the ``pii`` detectors, on a labelled faker set and on real web pages.

    PYTHONPATH=. .venv/bin/python benchmarks/pii_eval.py [--docs 3000] [--seeds 0 1 2]
    PYTHONPATH=. .venv/bin/python benchmarks/pii_eval.py --review-draft /tmp/review.tsv

1. Synthetic: ``tests/filters/pii_cases.py`` generates documents mixing true PII (8 faker locales)
   with hard negatives (dates, prices, ISBNs, versions, order numbers, barcodes, hashes, maths,
   code, coordinates, private IPs, addresses, cards and IBANs with a broken checksum). Per kind:
   precision and recall (a detection counts when it overlaps a true span of its kind; each true
   span is matched once), which negative categories the false positives came from, and a few
   missed values. Several seeds: medians with min-max.
2. Real pages: the 990 pages of ../shared/data/web-trafilatura, text by ``html_to_text``. Every
   detection is listed; ``tests/filters/pii_review.json`` holds a hand check of detections,
   keyed by ``review_key`` (a hash: no personal data in the repository), verdict right / wrong /
   partial. Reports how many detections were looked at and how many were right, per kind.
3. Speed: detection over the real pages' text, 3 interleaved repeats (a shared 2-core machine).

``--review-draft`` writes every real-page detection with its context and key to a local file
(never committed) to hand-check. Writes benchmarks/results/pii_eval.json and pii.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from datamill.filters.pii_detectors import KINDS, detect  # noqa: E402
from benchmarks.record import Record  # noqa: E402
from tests.filters.pii_cases import generate, score  # noqa: E402

REVIEW = ROOT / "tests" / "filters" / "pii_review.json"


def review_key(url: str, kind: str, value: str) -> str:
    return hashlib.sha1(f"{url}\0{kind}\0{value}".encode()).hexdigest()[:16]


def real_pages(shared: Path) -> list[dict]:
    from datamill.pipeline.io.html import html_to_text

    src = shared / "web-trafilatura"
    index = json.loads((src / "evaldata.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        files = {p.name: p for p in Path(tmp).rglob("*") if p.is_file()}
        pages = []
        for url, entry in sorted(index.items()):
            path = files.get(Path(entry["file"]).name)
            if path is not None:
                text = html_to_text(path.read_bytes().decode("utf-8", errors="replace"), url=url)
                if text:
                    pages.append({"url": url, "text": text})
    return pages


def synthetic(n_docs: int, seeds: list[int]) -> dict:
    runs, misses = [], {}
    for seed in seeds:
        docs = generate(n_docs, seed=seed)
        found = [[tuple(s) for s in detect(d.text)] for d in docs]
        runs.append(score(docs, found))
        for doc, spans in zip(docs, found):
            for kind, a, b in doc.spans:
                if not any(k == kind and s < b and a < e for k, s, e in spans):
                    misses.setdefault(kind, []).append(doc.text[a:b])
    out = {}
    for kind in KINDS:
        per = [r[kind] for r in runs]
        out[kind] = {m: _summary([p[m] for p in per]) for m in ("precision", "recall")}
        out[kind]["per_seed"] = {m: [p[m] for p in per] for m in ("precision", "recall")}
        out[kind].update({m: sum(p[m] for p in per) for m in ("tp", "fp", "fn", "exact_spans")})
        out[kind]["missed_examples"] = misses.get(kind, [])[:8]
    fp = Counter()
    for r in runs:
        fp.update(r["false_positives_by_source"])
    out["false_positives_by_source"] = dict(fp)
    return out


def real(pages: list[dict], draft: str | None) -> dict:
    reviews = json.loads(REVIEW.read_text()) if REVIEW.exists() else {}
    found, checked, right, wrong, partial = Counter(), Counter(), Counter(), Counter(), Counter()
    pages_with = Counter()
    lines = []
    for page in pages:
        text, kinds = page["text"], set()
        for span in detect(text):
            value = text[span.start:span.end]
            key = review_key(page["url"], span.kind, value)
            found[span.kind] += 1
            kinds.add(span.kind)
            verdict = reviews.get(key, {}).get("verdict")
            if verdict:
                checked[span.kind] += 1
                {"right": right, "wrong": wrong, "partial": partial}[verdict][span.kind] += 1
            context = text[max(0, span.start - 60):span.end + 30].replace("\n", " | ")
            lines.append(f"{key}\t{span.kind}\t{value}\t{context}\t{page['url']}")
        pages_with.update(kinds)
    if draft:
        Path(draft).write_text("\n".join(lines) + "\n")
    return {"pages": len(pages), "detections": dict(found), "pages_with": dict(pages_with),
            "hand_checked": dict(checked), "right": dict(right), "wrong": dict(wrong), "partial": dict(partial),
            "notes": sorted({r["note"] for r in reviews.values() if r.get("note")})}


def speed(pages: list[dict], repeats: int = 3) -> dict:
    texts = [p["text"] for p in pages]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for t in texts:
            detect(t)
        times.append(time.perf_counter() - t0)
    return {"mb": round(mb, 2), "docs": len(texts), "seconds": _summary(times),
            "mb_per_s": round(mb / statistics.median(times), 2), "mb_per_s_runs": [mb / t for t in times]}


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def markdown(res: dict) -> str:
    syn, rp = res["synthetic"], res["real_pages"]
    out = ["# PII detection (`pii` stage)", "",
           f"Generated by `benchmarks/pii_eval.py` ({res['machine']}). Raw numbers: `pii_eval.json`.", "",
           f"## Labelled faker set: {res['docs']} documents x seeds {res['seeds']}, 8 locales", "",
           "| kind | precision (median, min-max) | recall (median, min-max) | TP | FP | FN | exact spans |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in KINDS:
        s = syn[k]
        out.append(f"| {k} | {_fmt(s['precision'])} | {_fmt(s['recall'])} | {s['tp']} | {s['fp']} | {s['fn']} "
                   f"| {s['exact_spans']} |")
    out += ["", "False positives by the hard-negative category they came from: "
            + (", ".join(f"{k} {v}" for k, v in sorted(syn["false_positives_by_source"].items())) or "none"), "",
            "Missed values (examples):", ""]
    out += [f"- {k}: " + ", ".join(f"`{v}`" for v in syn[k]["missed_examples"]) for k in KINDS if syn[k]["missed_examples"]]
    out += ["", f"## Real pages: {rp['pages']} pages of web-trafilatura", "",
            "| kind | detections | pages | hand-checked | right | partial span | wrong |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for k in KINDS:
        out.append(f"| {k} | {rp['detections'].get(k, 0)} | {rp['pages_with'].get(k, 0)} | {rp['hand_checked'].get(k, 0)} "
                   f"| {rp['right'].get(k, 0)} | {rp['partial'].get(k, 0)} | {rp['wrong'].get(k, 0)} |")
    out += ["", "Review notes:", ""] + [f"- {n}" for n in rp["notes"]]
    sp = res["speed"]
    out += ["", f"## Speed: {sp['docs']} real pages, {sp['mb']} MB of text, one process", "",
            f"{sp['seconds']['median']} s (min {sp['seconds']['min']}, max {sp['seconds']['max']}, 3 repeats): "
            f"{sp['mb_per_s']} MB/s.", ""]
    return "\n".join(out)


def _fmt(s: dict) -> str:
    return f"{s['median']:.3f} ({s['min']:.3f}-{s['max']:.3f})"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--review-draft", default=None, help="write real-page detections with context here (local only)")
    args = ap.parse_args(argv)
    rec = Record("pii_eval", command="PYTHONPATH=. python benchmarks/pii_eval.py " + " ".join(argv or sys.argv[1:]),
                 params={"docs": args.docs, "seeds": args.seeds}, note="faker set: one repeat per seed")
    shared = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    pages = real_pages(shared)
    res = {"machine": "shared 2-core machine, loaded by other jobs", "docs": args.docs, "seeds": args.seeds,
           "synthetic": synthetic(args.docs, args.seeds), "real_pages": real(pages, args.review_draft),
           "speed": speed(pages)}
    for kind in KINDS:
        per_seed = res["synthetic"][kind].pop("per_seed")
        for metric in ("precision", "recall"):
            rec.figure(metric, per_seed[metric], unit="fraction", kind=kind, corpus="faker-8-locales")
    rec.figure("detect_speed", res["speed"].pop("mb_per_s_runs"), unit="MB/s", corpus="web-trafilatura")
    rec.details(synthetic=res["synthetic"], real_pages=res["real_pages"], speed=res["speed"])
    rec.write()
    (ROOT / "benchmarks" / "results" / "pii.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
