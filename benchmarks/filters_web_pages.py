"""Write the 990 trafilatura evaluation pages as jsonl.gz ({"id", "url", "html"} per line), the
input of configs/web-filters.yaml and configs/toxicity-davidson.yaml.

    .venv/bin/python benchmarks/filters_web_pages.py [-o runs/web-pages/pages.jsonl.gz] [--limit N]

Reads ../shared/data/web-trafilatura (or $DATAMILL_SHARED_DATA/web-trafilatura); nothing from
it is copied into the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_pages(out: Path, limit: int = 0, data: Path | None = None) -> int:
    data = data or Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    src = data / "web-trafilatura"
    index = json.loads((src / "evaldata.json").read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        files = {p.name: p for p in Path(tmp).rglob("*") if p.is_file()}
        with gzip.open(out, "wt", encoding="utf-8") as f:
            for url, entry in sorted(index.items()):
                page = files.get(entry["file"])
                if page is None:
                    continue
                html = page.read_bytes().decode("utf-8", errors="replace")
                f.write(json.dumps({"id": url, "url": url, "html": html}) + "\n")
                n += 1
                if limit and n >= limit:
                    break
    return n


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "runs" / "web-pages" / "pages.jsonl.gz"))
    p.add_argument("--limit", type=int, default=0, help="first N pages only (0 = all)")
    args = p.parse_args(argv)
    n = write_pages(Path(args.output), args.limit)
    print(f"{n} pages -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
