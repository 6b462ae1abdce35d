"""Random selection vs SemDeDup vs D4 at the same kept fraction and equal training tokens, through `datamill ablate`.

Data (nothing downloaded; $DATAMILL_SHARED_DATA or ../shared/data), written here under runs/d4-experiment/sources:
  web      the 990 trafilatura evaluation pages, main text (as in benchmarks/schedulers_experiment.py),
           or with --web-corpus any jsonl(.gz) web text (the GPU variant)
  stories  the 127 SQuALITY Project Gutenberg stories cut into passages of >= --passage-chars at
           paragraph breaks (a document per passage, so that selection has units to choose)
  docs     CPython's documentation: evaluation only, a source the selection never sees
Held out before any selection: 6% of web pages and 6% of the stories (whole stories), by a hash of
the id; they and docs are the ablation's reference eval sets. The rest is the pool, which every
arm of configs/ablate-d4.yaml cuts to half (random_sample / SemDeDup / D4) before training the same
proxy model for the same tokens on it (docs/ABLATIONS.md).

Usage: nice -n 10 .venv/bin/python benchmarks/d4_experiment.py [--config configs/ablate-d4.yaml]
Writes runs/d4-experiment/ (the ablation), benchmarks/results/d4_experiment.{json,md} and
benchmarks/figures/d4_val_loss.png.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "d4-experiment"
sys.path.insert(0, str(ROOT / "benchmarks"))


def _read(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(x) for x in f]


def _write(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "url": r.get("url")}, ensure_ascii=False) + "\n")


def passages(story: dict, min_chars: int) -> list[dict]:
    """A story cut at paragraph breaks into passages of at least ``min_chars`` (the tail joins the last)."""
    out, cur = [], []
    for p in re.split(r"\n\s*\n", story["text"]):
        if p.strip():
            cur.append(p.strip())
        if sum(map(len, cur)) >= min_chars:
            out.append("\n\n".join(cur))
            cur = []
    if cur:
        if out:
            out[-1] += "\n\n" + "\n\n".join(cur)
        else:
            out.append("\n\n".join(cur))
    return [{"id": f"{story['id']}-p{k:03d}", "url": story.get("url"), "text": t} for k, t in enumerate(out)]


def held_out(doc_id: str, fraction: float = 0.06) -> bool:
    import xxhash

    return xxhash.xxh3_64_intdigest(doc_id.encode(), seed=17) / 2.0**64 < fraction


def read_corpus(pattern: str) -> list[dict]:
    """Web documents from jsonl(.gz) files (``text``, optional ``id`` and ``url``): a larger web corpus."""
    import glob

    rows = []
    for path in sorted(glob.glob(pattern)):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for k, line in enumerate(f):
                r = json.loads(line)
                rows.append({"id": str(r.get("id") or f"{Path(path).name}:{k}"), "url": r.get("url"), "text": r["text"]})
    if not rows:
        raise SystemExit(f"--web-corpus {pattern!r}: no documents")
    return rows


def prepare(work: Path, passage_chars: int, web_corpus: str | None = None) -> dict:
    """Pool and validation sources as jsonl.gz under work/sources; returns document counts."""
    out = work / "sources"
    counts_file = out / "counts.json"
    if counts_file.exists():
        return json.loads(counts_file.read_text())
    from schedulers_experiment import prepare_sources

    common = ROOT / "runs" / "schedulers-experiment"  # the same extracted text as that experiment
    prepare_sources(common)
    src = {s: _read(common / "sources" / f"{s}.jsonl.gz") for s in ("docs", "stories", "web")}
    if web_corpus:
        src["web"] = read_corpus(web_corpus)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    story_val = [s for s in src["stories"] if held_out(s["id"])]
    story_pool = [s for s in src["stories"] if not held_out(s["id"])]
    sets = {"pool_web": [w for w in src["web"] if not held_out(w["id"])],
            "val_web": [w for w in src["web"] if held_out(w["id"])],
            "pool_stories": [p for s in story_pool for p in passages(s, passage_chars)],
            "val_stories": [p for s in story_val for p in passages(s, passage_chars)],
            "val_docs": src["docs"]}
    for name, rows in sets.items():
        _write(out / f"{name}.jsonl.gz", rows)
        counts[name] = {"docs": len(rows), "bytes": sum(len(r["text"].encode()) for r in rows)}
    counts["val_stories"]["stories"] = len(story_val)
    counts["pool_stories"]["stories"] = len(story_pool)
    counts_file.write_text(json.dumps(counts, indent=1))
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "ablate-d4.yaml"))
    ap.add_argument("--set", action="append", default=[], help="ablation config override KEY=VALUE")
    ap.add_argument("--passage-chars", type=int, default=3000)
    ap.add_argument("--web-corpus", default=None, help="jsonl(.gz) glob of web text replacing the trafilatura pages")
    ap.add_argument("--work", type=Path, default=WORK, help="where the sources go (the configs read them there)")
    ap.add_argument("--name", default="d4_experiment", help="results/<name>.json, .md and figures/<name>_*.png")
    args = ap.parse_args(argv)
    from datamill.ablate.config import load_config
    from datamill.ablate.run import run_ablation

    counts = prepare(args.work, args.passage_chars, args.web_corpus)
    print("sources:", json.dumps(counts), flush=True)
    cfg = load_config(args.config, args.set)
    t0 = time.perf_counter()
    result = run_ablation(cfg, progress=False)
    print(f"ablation: {time.perf_counter() - t0:.0f} s, {result['trained_now']} run(s) trained now", flush=True)
    from d4_report import report

    cmd = "nice -n 10 .venv/bin/python benchmarks/d4_experiment.py " + " ".join(
        [f"--config {Path(args.config).resolve().relative_to(ROOT)}"] + [f"--set {x}" for x in args.set])
    report(result, counts, cmd, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
