"""The web pages of the MeCo experiment (benchmarks/EXPERIMENTS.md, "MeCo"): the 990 trafilatura
evaluation pages of ``../shared/data/web-trafilatura`` (or ``$DATAMILL_SHARED_DATA``) as one jsonl.gz
of {"id", "url", "html"} per page, under bench-data/meco/ (git-ignored; nothing is copied into the repo).

    python benchmarks/meco_data.py     # then: datamill ablate configs/ablate-meco.yaml
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-data" / "meco" / "pages.jsonl.gz"


def main() -> None:
    shared = Path(os.environ.get("DATAMILL_SHARED_DATA") or ROOT.parent / "shared" / "data")
    src = shared / "web-trafilatura"
    index = json.loads((src / "evaldata.json").read_text())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
            tar.extractall(tmp, filter="data")
        files = {p.name: p for p in Path(tmp).rglob("*") if p.is_file()}
        n = 0
        with gzip.open(OUT, "wt", encoding="utf-8") as f:
            for url, entry in sorted(index.items()):
                path = files.get(Path(entry["file"]).name)
                if path is None:
                    continue
                html = path.read_bytes().decode("utf-8", errors="replace")
                f.write(json.dumps({"id": url, "url": url, "html": html}) + "\n")
                n += 1
    print(f"wrote {OUT} ({n} pages)")


if __name__ == "__main__":
    main()
