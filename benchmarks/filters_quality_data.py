"""A labelled training set for a stand-in quality classifier: ~2 KB windows of the QuALITY /
Project Gutenberg stories (``hq``, the GPT-3 / Pile idea of "books as reference text") vs
windows of Common Crawl text from the Dolma fixtures (``cc``). DCLM's released classifier
(OpenHermes + ELI5 vs RefinedWeb; docs/METHODS.md, "fastText quality classifier") cannot be
downloaded here; this has its shape, not its judgement.

    .venv/bin/python benchmarks/filters_quality_data.py -o runs/quality-standin/train.jsonl
    datamill fit-classifier runs/quality-standin/train.jsonl -o runs/quality-standin/quality.bin \
        --positive hq
    # then: {use: quality_filter, model: runs/quality-standin/quality.bin, label: __label__hq}
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def windows(text: str, size: int = 2000) -> list[str]:
    """Consecutive ~size-character windows of whole paragraphs (or lines)."""
    out, cur = [], ""
    for para in text.replace("\r", "").split("\n"):
        para = para.strip()
        if not para:
            continue
        cur = f"{cur}\n{para}" if cur else para
        if len(cur) >= size:
            out.append(cur[: size + 200])
            cur = ""
    return out


def book_docs() -> list[str]:
    """~1,600 windows of the 127 distinct stories (in file order)."""
    seen, docs = set(), []
    for split in ("train", "dev", "test"):
        for line in (DATA / "squality" / f"v1-3_txt_{split}.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            pid = row["metadata"]["passage_id"]
            if pid not in seen:
                seen.add(pid)
                docs.extend(windows(row["document"]))
    return docs


def web_docs() -> list[str]:
    docs = []
    for path in sorted((DATA / "web-dolma-fixtures").glob("*.json*.gz")):
        for line in gzip.open(path, "rt", encoding="utf-8"):
            docs.extend(windows(json.loads(line)["text"]))
    return docs


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "runs" / "quality-standin" / "train.jsonl"))
    args = p.parse_args(argv)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    books, web = book_docs(), web_docs()
    with out.open("w", encoding="utf-8") as f:
        for label, docs in (("hq", books), ("cc", web)):
            for text in docs:
                f.write(json.dumps({"text": text, "label": label}) + "\n")
    print(f"{len(books)} hq + {len(web)} cc rows -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
