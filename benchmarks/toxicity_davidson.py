"""Held-out quality of the fastText toxicity classifier on the Davidson tweets, over seeds.

The recipe of results/filters.md (``datamill fit-classifier … --positive 0,1 --normalize
--bucket 200000``): positive = hate speech or offensive (classes 0, 1). Each seed draws its own
10% held-out split and fastText seed, so the spread covers both; one fastText thread.

    PYTHONPATH=. python benchmarks/toxicity_davidson.py [--seeds 0 1 2]

Writes benchmarks/results/toxicity_davidson.json (one repeat per seed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import Record  # noqa: E402  (this script's folder)

from datamill.filters.fit_classifier import DCLM, fit, read_labelled  # noqa: E402

METRICS = ("roc_auc", "f1", "precision", "recall", "accuracy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    rec = Record("toxicity_davidson", command="PYTHONPATH=. python benchmarks/toxicity_davidson.py "
                 + " ".join(sys.argv[1:]), params=vars(args) | {"bucket": 200_000, "normalize": True},
                 packages=["fasttext-numpy2", "numpy"], note="held-out split and fastText seed per seed")
    texts, labels = read_labelled(str(DATA / "toxicity-davidson" / "labeled_data.csv"), "tweet", "class")
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            reports.append(fit(texts, labels, {"0", "1"}, "toxic", f"{tmp}/toxicity-{seed}.bin", seed=seed,
                               normalize=True, hyper={**DCLM, "bucket": 200_000}))
    for m in METRICS:
        rec.figure(m, [r["held_out"][m] for r in reports], unit="fraction", corpus="toxicity-davidson")
    rec.figure("train_seconds", [r["train_seconds"] for r in reports], unit="s", corpus="toxicity-davidson")
    rec.details(n_train=[r["n_train"] for r in reports], n_valid=[r["n_valid"] for r in reports],
                positive_rate=[r["held_out"]["positive_rate"] for r in reports])
    rec.write()
    for m in METRICS:
        print(m, [round(r["held_out"][m], 4) for r in reports])


if __name__ == "__main__":
    main()
