"""Random selection vs SemDeDup vs D4 at the same kept fraction and equal training tokens (CPU, tiny model).

Data (nothing downloaded; $DATAMILL_SHARED_DATA or ../shared/data):
  web      the 990 trafilatura evaluation pages, main text (as in benchmarks/schedulers_experiment.py)
  stories  the 127 SQuALITY Project Gutenberg stories cut into passages of >= --passage-chars at
           paragraph breaks (a document per passage, so that selection has units to choose)
  docs     CPython's documentation: validation only, a source the selection never sees
Held out before any selection: 6% of web pages and 6% of stories (whole stories), by a hash of
the id. The rest is the pool. Every arm keeps half of the pool (``configs/ablate-d4-data.yaml``):
  random    the ``random_sample`` stage        semdedup  SemDeDup alone, r_dedup 0.5
  d4        SemDeDup r_dedup 0.75, re-cluster, SSL prototypes r_proto 2/3
Then each arm trains the same model for the same steps (equal tokens) on its selection, in the
selection's own source proportions, and is evaluated on the same held-out windows of web,
stories and docs (an equal number per source). Selection seed = training seed.

Usage: nice -n 10 .venv/bin/python benchmarks/d4_experiment.py [--steps 300] [--seeds 0,1]
Writes runs/d4-experiment/, benchmarks/results/d4_experiment.{json,md}, benchmarks/figures/d4_*.png.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "d4-experiment"
ARMS = ("random", "semdedup", "d4")
VAL_SOURCES = ("web", "stories", "docs")
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


def build(args) -> None:
    from datamill.pipeline.runner import run_pipeline

    if not (args.work / "prep" / "full" / "manifest.json").exists():
        run_pipeline(args.prep_config, progress=False)
    if not all((args.work / "data" / f"shards_{a}_s{s}" / "manifest.json").exists()
               for a in args.arms.split(",") for s in args.seeds.split(",")):
        run_pipeline(args.data_config, progress=False)


def shard_dir(work: Path, arm: str, seed: int) -> Path:
    return work / ("prep/full" if arm == "full" else f"data/shards_{arm}_s{seed}")


def train_arm(arm: str, seed: int, args) -> Path:
    from datamill.train.data import ShardLoader
    from datamill.train.loop import train
    from experiment_trainer import tiny, trainer_config

    out = args.work / "runs" / f"{arm}_s{seed}"
    shards = shard_dir(args.work, arm, seed)
    cfg = trainer_config(args.trainer, tiny(args.steps, args.d_model, args.batch_size, args.eval_interval,
                                            args.val_batches),
                         out=out, seed=seed, shards=[str(shards)], tokens=args.tokens,
                         data={"val_fraction": 0.0}, overrides=args.set)
    metrics = out / "metrics.jsonl"
    if metrics.exists() and any(json.loads(x).get("step") == cfg.steps and "val_loss" in json.loads(x)
                                for x in metrics.read_text().splitlines()):
        return out
    cfg.resume = False
    T, B = cfg.data.seq_len, cfg.data.batch_size
    loader = ShardLoader([str(shards)], seq_len=T, batch_size=B, seed=seed, val_fraction=0.0)
    val = ShardLoader([str(args.work / "data" / "val")], seq_len=T, batch_size=B, seed=0, split="val",
                      val_fraction=1.0, verify="size")
    val.set_weights({s: 1.0 for s in val.sources})  # the same windows, equally many per source, in every arm
    t0 = time.perf_counter()
    train(cfg, loader=loader, val_loader=val)
    print(f"{arm} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def selection(work: Path, arm: str, seed: int) -> dict:
    """Documents and tokens per source in an arm's shards."""
    return json.loads((shard_dir(work, arm, seed) / "manifest.json").read_text())["sources"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--eval-interval", type=int, default=50)
    ap.add_argument("--val-batches", type=int, default=24)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--passage-chars", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--trainer", default=None, help="a trainer YAML instead of the tiny CPU model (GPU runs)")
    ap.add_argument("--tokens", type=int, default=0, help="training tokens per run (sets the steps)")
    ap.add_argument("--set", action="append", default=[], help="trainer override KEY=VALUE, for every run")
    ap.add_argument("--prep-config", default=str(ROOT / "configs" / "ablate-d4-prep.yaml"))
    ap.add_argument("--data-config", default=str(ROOT / "configs" / "ablate-d4-data.yaml"))
    ap.add_argument("--web-corpus", default=None, help="jsonl(.gz) glob of web text replacing the trafilatura pages")
    ap.add_argument("--work", type=Path, default=WORK, help="the output dir the two configs write under")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    counts = prepare(args.work, args.passage_chars, args.web_corpus)
    print("sources:", json.dumps(counts), flush=True)
    build(args)
    seeds = [int(s) for s in args.seeds.split(",")]
    arms = args.arms.split(",")
    if not args.report_only:
        for seed in seeds:  # arms interleaved within a seed
            for arm in arms:
                train_arm(arm, seed, args)
    from d4_report import report

    report(args.work, arms, seeds, args, counts, functools.partial(selection, args.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
