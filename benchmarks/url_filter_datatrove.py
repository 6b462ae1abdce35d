"""``url_filter``'s word rules against datatrove ``URLFilter``'s (the three checks transcribed
from src/datatrove/pipeline/filters/url_filter.py, commit a649de79), with datatrove's own lists.

URLs: the 954 real URLs of ../shared/data/web-trafilatura/evaldata.json and 3,000 built from the
lists' words (random case, separators and hosts). Prints disagreements with the URL lower-cased
first (datamill's reading) and as datatrove reads it (case-sensitive tokens).

    PYTHONPATH=. .venv/bin/python benchmarks/url_filter_datatrove.py DATATROVE/src/datatrove/assets

Writes benchmarks/results/url_filter_datatrove.json: counts (one deterministic run), with the
sha256 of each datatrove list read.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
from pathlib import Path

import pyarrow as pa

from datamill.filters.url_filter import URLFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402  (this script's folder)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
SPLIT = re.compile(r"[^a-zA-Z0-9]+")  # datatrove's `normalizer`


def parse_list(path: Path) -> set[str]:  # datatrove's parse_list(do_normalize=True)
    return {SPLIT.sub("", x).lower() for x in path.open() if x[0] != "#"} - {""}


def main(assets: Path) -> None:
    hard, soft, sub = (parse_list(assets / f"{n}.txt") for n in ("banned_words", "soft_banned_words", "banned_subwords"))

    def reference(url: str, lower: bool) -> str | None:
        words = set(SPLIT.split(url.lower() if lower else url))
        if any(w in words for w in hard):
            return "url_banned_word"
        if sum(w in words for w in soft) >= 2:
            return "url_soft_banned_words"
        if any(s in SPLIT.sub("", url).lower() for s in sub):
            return "url_banned_subword"
        return None

    real = [u for u in json.loads((DATA / "web-trafilatura" / "evaldata.json").read_text()) if "://" in u]
    rng, vocab = random.Random(0), sorted(hard | soft | sub)
    built = []
    for _ in range(3000):
        ws = rng.sample(vocab, rng.randint(0, 3)) + rng.sample(["news", "blog", "shop", "Sex", "Hot", "LIVE"], 2)
        ws = [w.upper() if rng.random() < 0.2 else w for w in ws]
        built.append(f"https://{rng.choice(['www.', ''])}{ws[0]}-site.com/" + rng.choice("-/_.").join(ws[1:]))
    urls = real + built
    stage = URLFilter(banned_words_path=str(assets / "banned_words.txt"),
                      soft_banned_words_path=str(assets / "soft_banned_words.txt"),
                      banned_subwords_path=str(assets / "banned_subwords.txt"))
    table = pa.table({"id": [str(i) for i in range(len(urls))], "text": [""] * len(urls), "url": urls})
    ours = stage.reasons(stage.annotate(table)).to_pylist()
    print(f"{len(urls)} URLs ({len(real)} real); datamill removes {sum(r is not None for r in ours)}, "
          f"{sum(r is not None for r in ours[:len(real)])} of the real ones")
    lists = {n: hashlib.sha256((assets / f"{n}.txt").read_bytes()).hexdigest()
             for n in ("banned_words", "soft_banned_words", "banned_subwords")}
    rec = Record("url_filter_datatrove", command="PYTHONPATH=. python benchmarks/url_filter_datatrove.py "
                 "DATATROVE/src/datatrove/assets", params={"urls": len(urls), "real_urls": len(real), "assets": str(assets),
                                                           "datatrove_lists_sha256": lists},
                 note="agreement counts of one deterministic run (no timing)")
    rec.figure("removed", [sum(r is not None for r in ours)], unit="URLs", impl="datamill", urls="all")
    rec.figure("removed", [sum(r is not None for r in ours[:len(real)])], unit="URLs", impl="datamill", urls="real")
    for lower in (True, False):
        theirs = [reference(u, lower) for u in urls]
        diff = [(u, a, b) for u, a, b in zip(urls, ours, theirs) if a != b]
        print(f"datatrove's rules, URL lower-cased={lower}: {len(diff)} disagree; e.g. {diff[:2]}")
        rec.figure("disagreements", [len(diff)], unit="URLs", datatrove_reading="lower-cased" if lower else "as written")
        rec.details(**{f"examples_{'lower' if lower else 'as_written'}": diff[:5]})
    rec.write()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
