"""Throughput of ``url_filter`` (annotate + reasons, one thread, process CPU time) on the 990
trafilatura URLs (../shared/data/web-trafilatura/evaldata.json) repeated to ``--rows``.

Configurations, measured interleaved: a 25-domain blocklist of the URLs' own domains (hosts
repeat 100 times, and each distinct host is looked up once per batch; so also with a distinct
subdomain per row); the same plus 1M synthetic domains (set lookups do not grow with the list; the load is timed apart);
every rule (blocklist, allowlist, a substring, and LDNOOBW's `en` list as banned, soft and
sub-words); and, for scale, datatrove's way of looking a domain up (one tldextract call per URL).

    PYTHONPATH=. .venv/bin/python benchmarks/url_filter_speed.py [--repeats 5] [--rows 99000]

Writes benchmarks/results/url_filter_speed.json (every repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa

pa.set_cpu_count(1)  # one core: Arrow kernels must not fan out to other threads

from datamill.filters import _url_lists  # noqa: E402
from benchmarks.record import Record  # noqa: E402
from datamill.filters.url_filter import URLFilter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rows", type=int, default=99_000)
    args = ap.parse_args()
    rec = Record("url_filter_speed", command="PYTHONPATH=. python benchmarks/url_filter_speed.py "
                 + " ".join(sys.argv[1:]), params=vars(args), packages=["pyarrow", "tldextract"],
                 note="one thread, process CPU time; configurations interleaved")
    urls = sorted(json.loads((DATA / "web-trafilatura" / "evaldata.json").read_text()))
    urls = (urls * (args.rows // len(urls) + 1))[: args.rows]
    table = pa.table({"id": [str(i) for i in range(len(urls))], "text": [""] * len(urls), "url": urls})
    hosts = sorted({urlsplit(u).hostname for u in urls if "://" in u})[::40]  # ~25 real hosts
    tmp = Path(tempfile.mkdtemp())
    (tmp / "small.txt").write_text("\n".join(hosts) + "\n")
    (tmp / "big.txt").write_text("\n".join(hosts + [f"host{i}.example{i % 997}.com" for i in range(1_000_000)]) + "\n")
    (tmp / "allow.txt").write_text(hosts[0] + "\n")
    words = str(DATA / "badwords-ldnoobw" / "en")

    stages = {
        "blocklist, 25 domains": URLFilter(blocklist=str(tmp / "small.txt")),
        "blocklist, 1M domains": URLFilter(blocklist=str(tmp / "big.txt")),
        "every rule": URLFilter(blocklist=str(tmp / "small.txt"), allowlist=str(tmp / "allow.txt"),
                                url_substrings=("casino",), banned_words_path=words,
                                soft_banned_words_path=words, banned_subwords_path=words),
    }
    start = time.process_time()
    _url_lists.host_list(str(tmp / "big.txt"), (), "bench")
    load_s = time.process_time() - start
    print(f"loading the 1M-domain list: {load_s:.2f} s CPU (once per worker process)")

    def datatrove_style(t):  # tldextract per URL, then registered domain / fqdn set lookups
        ext = _url_lists._EXTRACTOR[0]
        listed = set(hosts)
        return [(r.top_domain_under_public_suffix in listed or r.fqdn in listed)
                for r in map(ext, t.column("url").to_pylist())]

    runs = {name: (lambda t, s=s: s.reasons(s.annotate(t))) for name, s in stages.items()}
    # every row a different host (a per-row subdomain): no two rows share a lookup
    distinct = table.set_column(2, "url", pa.array([u.replace("://", f"://r{i}.", 1) for i, u in enumerate(urls)]))
    small = stages["blocklist, 25 domains"]
    runs["blocklist, 25 domains, every host distinct"] = lambda t: small.reasons(small.annotate(distinct))
    runs["tldextract per URL (datatrove's lookup)"] = datatrove_style
    for fn in runs.values():  # warm: lists loaded, tldextract built
        fn(table.slice(0, 1000))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            start = time.process_time()
            fn(table)
            times[name].append(time.process_time() - start)
    for name, ts in times.items():
        rec.figure("docs_per_s_per_core", [len(urls) / t for t in ts], unit="docs/s/core", config=name,
                   corpus="web-trafilatura-urls")
    rec.details(list_load_cpu_s_1m_domains=round(load_s, 2))
    rec.write()
    print(f"\n{len(urls):,} URLs, {args.repeats} interleaved repeats, docs/s per core: median (min-max)\n")
    print("| configuration | docs/s |\n| --- | --- |")
    for name, ts in times.items():
        rates = sorted(len(urls) / t for t in ts)
        print(f"| {name} | {statistics.median(rates):,.0f} ({rates[0]:,.0f}-{rates[-1]:,.0f}) |")


if __name__ == "__main__":
    main()
