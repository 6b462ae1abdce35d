"""datamill's rule sets at their defaults against datatrove's filters at theirs, on real pages.

    PYTHONPATH=. .venv/bin/python benchmarks/rule_sets_reference.py [--label before|after]
        [--datatrove-python /tmp/dtvenv/bin/python] [--no-fixture]

The pages: the 990 trafilatura evaluation pages (main text by ``html_to_text``, as the test
fixture ``web_text`` extracts it) and the 30 Common Crawl documents of the dolma fixtures, all
under ../shared/data. datatrove runs in its own virtualenv (``pip install datatrove spacy
"xxhash<4" regex tokenizers nltk psutil``; it is no dependency of datamill): this script calls
itself there with ``reference IN OUT``. It writes

- ``tests/filters/reference_decisions.json``: per page, keyed by the sha256 of its text (never
  the text), datatrove's decision for each rule set ("keep" or its reason), with datatrove's
  version and the filters' arguments (skipped with ``--no-fixture``, which reuses the fixture);
- ``benchmarks/results/rule_sets_reference.{json,md}``: per rule set, the share of pages where
  datamill keeps/drops as datatrove does, under ``--label`` (earlier labels are kept).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "filters" / "reference_decisions.json"
RESULTS = ROOT / "benchmarks" / "results" / "rule_sets_reference"
# datatrove class and arguments (its defaults, written out) per datamill rule set.
REFERENCE = {
    "gopher_quality": ("GopherQualityFilter", {}),
    "gopher_repetition": ("GopherRepetitionFilter", {}),
    "c4_quality": ("C4QualityFilter", {}),
    "fineweb_quality": ("FineWebQualityFilter", {}),
}
DOLMA = ("multiple_files__cc_en_head-0091.jsonl.gz", "multiple_files__cc_en_head-0174.jsonl.gz",
         "provided__documents__000.json.gz")


def page_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dolma_texts(data: Path) -> list[str]:
    texts = []
    for name in DOLMA:
        with gzip.open(data / "web-dolma-fixtures" / name, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def corpus(data: Path) -> list[str]:
    """The texts, in a fixed order: trafilatura pages (non-empty main text), then dolma docs."""
    sys.path.insert(0, str(ROOT / "benchmarks"))  # script-only: the page writer beside this file
    from filters_web_pages import write_pages

    from datamill.pipeline.io.html import html_to_text

    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        pages = Path(tmp) / "pages.jsonl.gz"
        write_pages(pages, data=data)
        with gzip.open(pages, "rt", encoding="utf-8") as f:
            for line in f:
                page = json.loads(line)
                text = html_to_text(page["html"], url=page["url"])
                if text:
                    texts.append(text)
    return texts + dolma_texts(data)


def run_reference(src: str, out: str) -> None:
    """(datatrove's venv) One decision per text and rule set: "keep" or datatrove's reason."""
    from importlib.metadata import version

    from datatrove.data import Document
    from datatrove.pipeline import filters

    stages = {name: getattr(filters, cls)(**args) for name, (cls, args) in REFERENCE.items()}
    decisions = {}
    for line in Path(src).read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        row = {}
        for name, stage in stages.items():
            got = stage.filter(Document(text=doc["text"], id=doc["id"]))
            row[name] = "keep" if got is True else got[1]
        decisions[doc["id"]] = row
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    def plain(v):  # JSON, in a fixed order (sets and datatrove's tuples built from sets: sorted)
        if isinstance(v, (set, frozenset)) or (isinstance(v, tuple) and all(isinstance(x, str) for x in v)):
            return sorted(v)
        return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v

    def arguments(stage) -> dict:  # every __init__ argument, as the filter holds it
        names = [p for p in inspect.signature(type(stage).__init__).parameters if p != "self"]
        return {k: plain(getattr(stage, k)) for k in names
                if k != "exclusion_writer" and hasattr(stage, k)}

    meta = {"datatrove": version("datatrove"), "spacy": version("spacy"), "nltk": version("nltk"),
            "english_word_tokenizer": type(load_word_tokenizer(stages["gopher_quality"].language)).__name__,
            "filters": {n: {"class": REFERENCE[n][0], "args": arguments(st)} for n, st in stages.items()}}
    Path(out).write_text(json.dumps({"meta": meta, "decisions": decisions}))


def write_fixture(texts: list[str], python: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out.json"
        src.write_text("".join(json.dumps({"id": page_id(t), "text": t}) + "\n" for t in texts))
        subprocess.run([python, __file__, "reference", str(src), str(out)], check=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        ref = json.loads(out.read_text())
    ref["meta"]["pages"] = ("trafilatura eval pages (html_to_text, non-empty) + dolma fixtures' "
                            "cc_en_head and provided documents; key: sha256(text)[:16]")
    FIXTURE.write_text(json.dumps(ref, indent=0, sort_keys=True) + "\n")
    return ref


def datamill_decisions(texts: list[str]) -> dict[str, list[str]]:
    """{rule set: "keep" or datamill's reason, per text} at datamill's defaults."""
    import pyarrow as pa

    from datamill.filters.c4_quality import C4QualityFilter
    from datamill.filters.fineweb_quality import FineWebQualityFilter
    from datamill.filters.gopher_quality import GopherQualityFilter
    from datamill.filters.gopher_repetition import GopherRepetitionFilter

    table = pa.table({"id": [page_id(t) for t in texts], "text": texts})
    out = {}
    for stage in (GopherQualityFilter(), GopherRepetitionFilter(), C4QualityFilter(),
                  FineWebQualityFilter()):
        reasons = stage.reasons(stage.annotate(table)).to_pylist()
        out[stage.use] = [r or "keep" for r in reasons]
    return out


def agreement(ours: list[str], theirs: list[str]) -> float:
    return sum((a == "keep") == (b == "keep") for a, b in zip(ours, theirs)) / len(ours)


def main(argv: list[str]) -> int:
    if argv[:1] == ["reference"]:
        run_reference(*argv[1:3])
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--label", default="after")
    p.add_argument("--datatrove-python", default="/tmp/dtvenv/bin/python")
    p.add_argument("--no-fixture", action="store_true", help="reuse the committed fixture")
    args = p.parse_args(argv)
    data = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    texts = corpus(data)
    ref = json.loads(FIXTURE.read_text()) if args.no_fixture else write_fixture(
        texts, args.datatrove_python)
    theirs = {name: [ref["decisions"][page_id(t)][name] for t in texts] for name in REFERENCE}
    ours = datamill_decisions(texts)
    results = json.loads(RESULTS.with_suffix(".json").read_text()) if RESULTS.with_suffix(
        ".json").exists() else {}
    results["pages"] = len(texts)
    results["reference"] = ref["meta"]
    results[args.label] = {
        name: {"agreement": round(agreement(ours[name], theirs[name]), 4),
               "keep_everything_baseline": round(agreement(["keep"] * len(texts), theirs[name]), 4),
               "kept_datamill": ours[name].count("keep"), "kept_datatrove": theirs[name].count("keep")}
        for name in REFERENCE}
    RESULTS.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    labels = [k for k in ("before", "after") if k in results]
    md = ["# Rule sets against datatrove (generated by benchmarks/rule_sets_reference.py)", "",
          f"{results['pages']} real pages; datatrove {ref['meta']['datatrove']}, every filter at its "
          "defaults; agreement = same keep/drop decision.", "",
          "| rule set | " + " | ".join(f"agreement {k}" for k in labels) + " | keep-all baseline |",
          "|---" * (len(labels) + 2) + "|"]
    for name in REFERENCE:
        md.append(f"| {name} | " + " | ".join(f"{results[k][name]['agreement']:.1%}" for k in labels)
                  + f" | {results[labels[-1]][name]['keep_everything_baseline']:.1%} |")
    RESULTS.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
