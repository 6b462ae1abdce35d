"""Precision/recall of ``minhash_dedup`` on neardup-clough (Clough & Stevenson 2011), with a
threshold sweep.

    .venv/bin/python benchmarks/minhash_clough.py

Ground truth: two of the 100 texts are "derived from the same source" when they belong to the
same task and each is the Wikipedia source or an answer labelled cut, light or heavy (the 38
"non" answers were written independently). Predicted: the stage (annotate mode, 128
permutations, word 5-grams, bands x rows from datasketch's search at each threshold) puts them
in one cluster. Precision is over all predicted pairs; recall over the 57 (answer, its source)
pairs, also split by the answer's label (cut / light / heavy). For reference, the same
threshold applied to exact Jaccard of the two texts (no LSH). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import os
from itertools import combinations
from pathlib import Path

import pyarrow as pa

from datamill.stages.minhash import signatures as mh
from datamill.stages.minhash.minhash_dedup import MinHashDedup

ROOT = Path(__file__).resolve().parents[1]


def load(data: Path):
    rows = list(csv.DictReader((data / "file_information.csv").open()))
    derived = {"cut", "light", "heavy", "orig"}
    texts = {r["File"]: (data / r["File"]).read_text(encoding="latin-1") for r in rows}
    truth = {}
    for a, b in combinations(sorted(rows, key=lambda r: r["File"]), 2):
        if a["Task"] == b["Task"] and a["Category"] in derived and b["Category"] in derived:
            label = a["Category"] if a["Category"] != "orig" else b["Category"]
            truth[(a["File"], b["File"])] = label
    return texts, truth


def clusters(stage: MinHashDedup, ids, texts, client) -> dict[str, str]:
    from datamill.partitions import Partitions, PlanContext

    parts = [pa.table({"id": ids[i::2], "text": texts[i::2]}) for i in range(2)]
    ctx = PlanContext(stage_name="near", stage_dir="", client=client)
    out = pa.concat_tables(stage.plan(ctx, Partitions(client, client.scatter(parts, hash=False))).gather())
    return dict(zip(out.column("id").to_pylist(), out.column("minhash_cluster").to_pylist()))


def scores(pred: set, truth: dict) -> dict:
    """Precision over every predicted pair (two answers derived from one source count as
    correct); recall over (answer, its source) pairs, also per answer label."""
    out = {"precision": sum(p in truth for p in pred) / len(pred) if pred else 1.0}
    to_source = {p: lab for p, lab in truth.items() if p[0].startswith("orig") or p[1].startswith("orig")}
    out["recall"] = sum(p in pred for p in to_source) / len(to_source)
    for label in ("cut", "light", "heavy"):
        pos = [p for p, lab in to_source.items() if lab == label]
        out[f"recall_{label}"] = sum(p in pred for p in pos) / len(pos)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
                    / "neardup-clough")
    ap.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--ngram", type=int, default=5)
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    texts, truth = load(args.data)
    ids = sorted(texts)
    all_pairs = list(combinations(ids, 2))
    shingles = dict(zip(ids, (set(s) for s in mh.shingles([texts[i] for i in ids], ngram=args.ngram))))
    jac = {p: len(shingles[p[0]] & shingles[p[1]]) / len(shingles[p[0]] | shingles[p[1]]) for p in all_pairs}
    print(f"{len(ids)} texts, {len(truth)} derived pairs of {len(all_pairs)}\n")
    print("| threshold | bands x rows | precision | recall | recall cut / light / heavy | exact-Jaccard precision / recall |")
    print("|---|---|---|---|---|---|")
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            Client(lc) as client:
        for t in (float(x) for x in args.thresholds.split(",")):
            stage = MinHashDedup(threshold=t, mode="annotate", ngram=args.ngram)
            _, b, r = stage.lsh_params()
            cl = clusters(stage, ids, [texts[i] for i in ids], client)
            pred = {p for p in all_pairs if cl[p[0]] == cl[p[1]]}
            s = scores(pred, truth)
            e = scores({p for p in all_pairs if jac[p] >= t}, truth)
            print(f"| {t:.1f} | {b} x {r} | {s['precision']:.2f} | {s['recall']:.2f} | "
                  f"{s['recall_cut']:.2f} / {s['recall_light']:.2f} / {s['recall_heavy']:.2f} | "
                  f"{e['precision']:.2f} / {e['recall']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
