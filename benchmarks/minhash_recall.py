"""Recall and end-to-end time of datamill's ``minhash_dedup`` vs datatrove 0.10 on corpora with
planted near-copies (``benchmarks/make_debian_corpus.py``), repeats interleaved, recorded with
``benchmarks/record.py`` into ``benchmarks/results/minhash_recall.json``.

    .venv/bin/python benchmarks/minhash_recall.py --datatrove-python /tmp/dtvenv/bin/python \\
        --corpus debian=bench-data/debian-200k --corpus squality=bench-data/squality-200k

First, per corpus (and per ``--pairs-corpus``, which gets no end-to-end run), where a recall
difference comes from, on the planted pairs alone (see below). Then per repeat and corpus, one
after the other: ``minhash_dedup_e2e.py`` (preset fineweb: 14 bands
x 8 rows, word 5-grams, 2 workers) and ``minhash_datatrove.py --tokenizer whitespace`` (the
same bands and rows, its own normalisation, 2 workers), each a fresh process; the JSON is rewritten
after every run. Planted-pair analysis (no pipeline): the
share of pairs with at least one equal band ("pair recall") and the S-curve's prediction from
the pairs' exact Jaccard, for datamill's default, datamill with the old normalisation
(``punctuation=drop, diacritics=False``), datamill with datasketch's hash (sha1), and
datatrove's own shingles and signatures at 64 and 32 bits (``minhash_datatrove.py --pairs``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import Record  # noqa: E402

BANDS, ROWS = 14, 8
VARIANTS = {"datamill": {}, "datamill_punct_drop": {"punctuation": "drop", "diacritics": False},
            "datamill_hash_datasketch": {"hash": "datasketch"}}


def last_json(cmd: list[str]) -> dict:
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def planted_pairs(corpus: Path, limit: int) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq

    truth = pq.read_table(corpus / "truth.parquet").to_pylist()[:limit]
    need = {r["id"] for r in truth} | {r["source_id"] for r in truth}
    texts = {}
    for f in sorted(corpus.glob("part-*.parquet")):
        t = pq.read_table(f, columns=["id", "text"])
        texts.update((i, x) for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist()) if i in need)
    return [texts[r["source_id"]] for r in truth], [texts[r["id"]] for r in truth]


def pair_recall(a: list[str], b: list[str], seed: int = 1, **options) -> dict:
    """Pair recall at BANDS x ROWS with permutations from ``seed``, and the S-curve prediction
    from the exact Jaccard."""
    from datamill.stages.minhash import signatures as mh

    norm = {k: v for k, v in options.items() if k != "hash"}
    exact = np.array([len(set(x) & set(y)) / max(1, len(set(x) | set(y)))
                      for x, y in zip(mh.shingles(a, **norm), mh.shingles(b, **norm))])
    sa, sb = (mh.signatures(t, num_perm=BANDS * ROWS, seed=seed, **options) for t in (a, b))
    hit = (sa == sb).reshape(len(a), BANDS, ROWS).all(axis=2).any(axis=1)
    return {"pair_recall": float(hit.mean()), "mean_jaccard": float(exact.mean()),
            "s_curve": float((1 - (1 - exact**ROWS) ** BANDS).mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", action="append", required=True, help="LABEL=PATH (repeatable)")
    ap.add_argument("--pairs-corpus", action="append", default=[], help="LABEL=PATH: planted-pair analysis only")
    ap.add_argument("--datatrove-python", default="/tmp/dtvenv/bin/python")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-pairs", type=int, default=10_000, help="planted pairs for the pair analysis")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", default="1", help="comma-separated permutation seeds for the pair analysis: "
                    "datamill's default and datatrove 64-bit run at each (paired by seed), the other variants at "
                    "the first only")
    ap.add_argument("--name", default="minhash_recall", help="results/NAME.json")
    ap.add_argument("--e2e-only", action="store_true", help="skip the pair analysis and carry its figures over "
                    "from the existing results/NAME.json (its command and date go into details.pairs_from)")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    corpora = dict(c.split("=", 1) for c in args.corpus)
    pairs_only = dict(c.split("=", 1) for c in args.pairs_corpus)

    rec = Record(args.name, command="python benchmarks/minhash_recall.py " + " ".join(argv or sys.argv[1:]),
                 params={"bands": BANDS, "rows": ROWS, "ngram": 5, "workers": args.workers, "corpora": corpora,
                         "pairs_only": pairs_only, "seeds": seeds},
                 packages=["numpy", "pyarrow", "dask", "datasketch"],
                 note="end to end: wall and CPU seconds (driver + workers), recall = share of planted pairs "
                      "with at least one copy removed; runs interleaved datamill/datatrove per repeat. "
                      "pair_* figures: planted pairs only, deterministic per seed (one value per seed, "
                      "in the order of params.seeds).")
    if args.e2e_only:
        from record import read

        old = read(args.name)
        rec.data["figures"] = [f for f in old["figures"] if f["name"].startswith("pairs_")]
        rec.details(pairs_from={"command": old["command"], "recorded": old["recorded"],
                                "versions": old["versions"], "seeds": old["params"].get("seeds")})
    for label, path in {} if args.e2e_only else {**corpora, **pairs_only}.items():  # deterministic, cheap: first
        a, b = planted_pairs(Path(path), args.max_pairs)
        pairs_file = ROOT / "bench-data" / "runs" / f"pairs-{label}.json"
        pairs_file.parent.mkdir(parents=True, exist_ok=True)
        pairs_file.write_text(json.dumps({"a": a, "b": b}))
        found: dict[str, list[dict]] = {}
        for i, seed in enumerate(seeds):
            variants = VARIANTS if i == 0 else {"datamill": {}}
            for impl, opts in variants.items():
                found.setdefault(impl, []).append(pair_recall(a, b, seed=seed, **opts))
            for bits in (64, 32) if i == 0 else (64,):
                found.setdefault(f"datatrove_{bits}bit", []).append(last_json(
                    [args.datatrove_python, "benchmarks/minhash_datatrove.py", "--pairs", str(pairs_file),
                     "--precision", str(bits), "--seed", str(seed)]))
        for impl, results in found.items():
            print(json.dumps({"corpus": label, "impl": impl, "per_seed": results}), flush=True)
            for key in ("pair_recall", "s_curve", "mean_jaccard"):
                rec.figure(f"pairs_{key}", [r[key] for r in results], unit="share", corpus=label, impl=impl,
                           pairs=len(a))
        rec.write()
    runs: dict[tuple, list[dict]] = {}
    for rep in range(args.repeats):
        for label, path in corpora.items():
            sides = {"datamill": [sys.executable, "benchmarks/minhash_dedup_e2e.py", "--corpus", path,
                                  "--workers", str(args.workers), "--out", f"bench-data/runs/recall-{label}"],
                     "datatrove": [args.datatrove_python, "benchmarks/minhash_datatrove.py", "--corpus", path,
                                   "--tokenizer", "whitespace", "--workers", str(args.workers),
                                   "--work", f"bench-data/runs/recall-dt-{label}"]}
            for impl, cmd in sides.items():
                res = last_json(cmd)
                print(json.dumps({**res, "repeat": rep, "corpus": label, "impl": impl}), flush=True)
                runs.setdefault((label, impl), []).append(res)
                write_e2e(rec, runs)  # after every run: a cut-off leaves what finished
    return 0


def write_e2e(rec: Record, runs: dict) -> None:
    rec.data["figures"] = [f for f in rec.data["figures"] if not f["name"].startswith("e2e_")]
    for (label, impl), rs in runs.items():
        for key, unit in (("wall_s", "s"), ("cpu_s", "s"), ("recall", "share"),
                          ("removed_not_planted", "docs"), ("load_avg_1m", "load")):
            rec.figure(f"e2e_{key}", [r[key] for r in rs], unit=unit, corpus=label, impl=impl)
    rec.write()


if __name__ == "__main__":
    raise SystemExit(main())
