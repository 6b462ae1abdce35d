"""Build a real-text benchmark corpus of ~2 KB documents from Debian documentation packages.

Paragraphs of the Python, Linux, Perl and PostgreSQL manuals and the Debian Reference are
recombined at random into new documents of ~2 KB; a fraction of them gets a planted near-copy
(a share of its words substituted by other corpus words), recorded as ground truth.

    .venv/bin/python benchmarks/make_debian_corpus.py --docs 1000000 --out bench-data/debian-1m

``--source squality`` takes the paragraphs of SQuALITY's Gutenberg stories instead, ``--source
web`` the main text (trafilatura) of the 990 trafilatura evaluation pages (many languages);
both from ``../shared/data`` (or ``$DATAMILL_SHARED_DATA``), recombined and planted the same way.

Writes OUT/part-NNNNN.parquet (id, text), OUT/truth.parquet (id, source_id: the planted copy
and the document it was made from) and OUT/manifest.json. The .deb files are fetched with
``apt-get download`` (no install) into bench-data/debian-debs and unpacked next to them.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import re
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PACKAGES = ["python3.11-doc", "linux-doc-6.1", "perl-doc", "postgresql-doc-15", "debian-reference-en"]
ROOT = Path(__file__).resolve().parents[1]
TEXT_SUFFIXES = (".rst.txt", ".txt", ".rst", ".pod", ".rst.gz", ".txt.gz", ".pod.gz")
_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)


def fetch(debs: Path, extract: Path) -> None:
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True)
    if not extract.exists():
        tmp = extract.with_name(extract.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        tmp.rename(extract)


def documents(extract: Path):
    """Plain text of every documentation file (markup left in: it is real-world text)."""
    for path in sorted(extract.rglob("*")):
        name = path.name
        if not path.is_file() or "/man/" in str(path) or "changelog" in name or "copyright" in name:
            continue
        if name.endswith(TEXT_SUFFIXES):
            raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
            yield raw.decode("utf-8", errors="replace")
        elif name.endswith(".html"):
            yield html.unescape(_TAG.sub("\n", path.read_text(encoding="utf-8", errors="replace")))


def shared_documents(source: str):
    """Story texts (squality) or extracted main texts (web) of the shared data sets."""
    sys.path.insert(0, str(ROOT))
    from tests.stages.shard_corpora import stories  # noqa: PLC0415 (the tests' reader of the data)

    data = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    if source == "squality":
        yield from stories(data).column("text").to_pylist()
        return
    import tarfile

    import trafilatura

    with tarfile.open(data / "web-trafilatura" / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".html"):
                page = tar.extractfile(member).read().decode("utf-8", errors="replace")
                text = trafilatura.extract(page) or ""
                yield text.replace("\n", "\n\n")  # one paragraph a line


def paragraphs(texts) -> list[str]:
    """Distinct prose-like paragraphs (blank-line separated, 100-1500 chars, mostly letters)."""
    seen, out = set(), []
    for text in texts:
        for block in re.split(r"\n\s*\n", text):
            para = " ".join(block.split())
            if not 100 <= len(para) <= 1500 or len(para.split()) < 12:
                continue
            letters = sum(c.isalpha() or c == " " for c in para)
            if letters < 0.75 * len(para) or para in seen:
                continue
            seen.add(para)
            out.append(para)
    return out


def build(pool: list[str], n_docs: int, dup_frac: float, sub_rate: float, target: int, seed: int):
    rng = np.random.default_rng(seed)
    n_dup = int(round(n_docs * dup_frac))
    n_base = n_docs - n_dup
    lengths = np.array([len(p) + 1 for p in pool])
    docs = []
    draws, k = rng.integers(0, len(pool), size=1 << 20), 0
    for _ in range(n_base):
        parts, size = [], 0
        while size < target:
            if k == len(draws):  # fresh draws, never a repeat of an earlier sequence
                draws, k = rng.integers(0, len(pool), size=1 << 20), 0
            j = draws[k]
            k += 1
            parts.append(pool[j])
            size += lengths[j]
        docs.append("\n\n".join(parts))
    vocab = sorted({w for p in pool[:20000] for w in p.split() if w.isalpha()})
    sources = rng.choice(n_base, size=n_dup, replace=False)
    for s in sources:
        words = docs[s].split(" ")
        idx = rng.choice(len(words), size=max(1, int(round(sub_rate * len(words)))), replace=False)
        for i in idx:
            words[i] = vocab[rng.integers(len(vocab))]
        docs.append(" ".join(words))
    order = rng.permutation(n_docs)  # ids in random order: keep=first picks either copy
    ids = np.empty(n_docs, dtype=object)
    ids[order] = [f"d{i:07d}" for i in range(n_docs)]
    truth = pa.table({"id": ids[n_base:].tolist(), "source_id": ids[sources].tolist()})
    return ids.tolist(), docs, truth


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--dup-frac", type=float, default=0.05, help="planted near-copies (results/minhash.md: 5%%)")
    ap.add_argument("--sub-rate", type=float, default=0.03, help="words substituted (results/minhash.md: 3%%)")
    ap.add_argument("--target-chars", type=int, default=1850, help="paragraphs are added until this; mean ~2 KB")
    ap.add_argument("--rows-per-file", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--columns", default="id,text", help="names of the id and text columns")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-data" / "debian-1m")
    ap.add_argument("--source", choices=["debian", "squality", "web"], default="debian")
    args = ap.parse_args(argv)

    if args.source == "debian":
        debs, extract = ROOT / "bench-data" / "debian-debs", ROOT / "bench-data" / "debian-extract"
        fetch(debs, extract)
        pool = paragraphs(documents(extract))
    else:
        pool = paragraphs(shared_documents(args.source))
    print(f"{len(pool)} distinct paragraphs, {sum(map(len, pool)) / 1e6:.1f} MB")
    ids, docs, truth = build(pool, args.docs, args.dup_frac, args.sub_rate, args.target_chars, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    id_col, text_col = args.columns.split(",")
    for n, start in enumerate(range(0, len(docs), args.rows_per_file)):
        end = start + args.rows_per_file
        part = pa.table({id_col: ids[start:end], text_col: docs[start:end]})
        pq.write_table(part, args.out / f"part-{n:05d}.parquet", compression="zstd", row_group_size=10_000)
    pq.write_table(truth, args.out / "truth.parquet")
    manifest = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    manifest.update(paragraphs=len(pool), packages=PACKAGES if args.source == "debian" else [], mean_chars=float(np.mean([len(d) for d in docs[:10000]])))
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print(f"wrote {len(docs)} documents ({len(truth)} planted near-copies) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
