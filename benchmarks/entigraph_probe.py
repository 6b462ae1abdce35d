"""Closed-book knowledge probe for the EntiGraph experiment (benchmarks/EXPERIMENTS.md, "EntiGraph").

For every SQuALITY question of a set of stories, the loss (mean negative log-likelihood per
token) of each human reference answer given only the story's title and the question:

    <title>
    Question: <question>
    Answer: <reference answer>

Stories are "trained" (their raw text or EntiGraph corpus was trained on) or "control" (never
seen by the continued pretraining). A model that learned the trained stories lowers their answer
loss more than the control stories'; the effect is (trained after - before) - (control after -
before), per model, with the paired per-answer differences behind it.

    python benchmarks/entigraph_probe.py select --out-dir runs/entigraph-exp
    python benchmarks/entigraph_probe.py probe --stories runs/entigraph-exp/stories.json \
        --model base=runs/smollm2-hf --model eg-s0=runs/entigraph-exp/eg-s0/hf --out benchmarks/results/entigraph_probe.json

``select`` writes the trained stories as ``stories.jsonl`` (the pipeline's source), the same
stories in ~2000-character chunks as ``raw_chunks.jsonl`` (the raw arm), and every probed story with its group and questions as ``stories.json``. Stories are picked whose text
starts with the title (many SQuALITY texts start with a Project Gutenberg credit line instead).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAINED = ["dev:0", "dev:4", "dev:5"]  # JINX SHIP TO THE RESCUE, DUST UNTO DUST, MUCK MAN
CONTROL = ["dev:6", "dev:7", "test:1"]  # THE DESERT AND THE STARS, INNOCENT AT LARGE, GALACTIC GHOST


def _expand(refs: list[str]) -> list[str]:
    """SPLIT:I and SPLIT:I-J (inclusive) references, one per story."""
    out = []
    for ref in refs:
        split, index = ref.split(":")
        lo, _, hi = index.partition("-")
        out += [f"{split}:{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def _chunks(text: str, size: int) -> list[str]:
    """Line-aligned pieces of about ``size`` characters."""
    out, cur = [], ""
    for line in text.split("\n"):
        cur = f"{cur}\n{line}" if cur else line
        if len(cur) >= size:
            out.append(cur)
            cur = ""
    return out + ([cur] if cur else [])


def select(out_dir: Path, trained: list[str], control: list[str], chunk_chars: int = 2000) -> None:
    shared = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data")) / "squality"
    splits: dict[str, list[dict]] = {}
    stories = []
    for group, refs in (("trained", trained), ("control", control)):
        for ref in _expand(refs):
            split, index = ref.split(":")
            if split not in splits:
                splits[split] = [json.loads(line) for line in open(shared / f"v1-3_txt_{split}.jsonl")]
            row = splits[split][int(index)]
            text = row["document"].strip()
            title = next(line.strip() for line in text.splitlines() if line.strip())
            stories.append({"id": row["metadata"]["uid"], "ref": ref, "title": title, "group": group,
                            "document": text, "questions": row["questions"]})
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "stories.jsonl", "w") as f:
        for s in stories:
            if s["group"] == "trained":
                f.write(json.dumps({"id": s["id"], "title": s["title"], "document": s["document"]}) + "\n")
    with open(out_dir / "raw_chunks.jsonl", "w") as f:  # the raw arm: the trainer holds out whole
        for s in stories:                                # documents for validation, so chunks, not stories
            if s["group"] == "trained":
                for i, chunk in enumerate(_chunks(s["document"], chunk_chars)):
                    f.write(json.dumps({"id": f"{s['id']}-{i}", "document": chunk}) + "\n")
    (out_dir / "stories.json").write_text(json.dumps([{k: v for k, v in s.items() if k != "document"}
                                                      for s in stories], indent=1))
    for s in stories:
        print(f"{s['group']:8} {s['ref']:7} {s['title']}", file=sys.stderr)

PROMPT = "{title}\nQuestion: {question}\nAnswer:"


def probe_items(stories: list[dict], answers_per_question: int = 4) -> list[dict]:
    """One item per (story, question, reference answer); the first ``answers_per_question`` answers."""
    items = []
    for story in stories:
        for q in story["questions"]:
            for r in q["responses"][:answers_per_question]:
                items.append({"story": story["id"], "group": story["group"], "question": q["question_number"],
                              "prompt": PROMPT.format(title=story["title"], question=q["question_text"].strip()),
                              "answer": " " + " ".join(r["response_text"].split())})
    return items


def answer_losses(model_dir: str, items: list[dict], max_answer_tokens: int = 256, batch_size: int = 8) -> list[float]:
    """Mean NLL per answer token for each item (answers cut at max_answer_tokens)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    seqs = []
    for it in items:
        p = tok(it["prompt"], add_special_tokens=False)["input_ids"]
        a = tok(it["answer"], add_special_tokens=False)["input_ids"][:max_answer_tokens]
        seqs.append((p + a, len(p)))
    losses = []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    with torch.inference_mode():
        for start in range(0, len(seqs), batch_size):
            batch = seqs[start:start + batch_size]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (s, _) in enumerate(batch):
                ids[row, :len(s)] = torch.tensor(s)
                mask[row, :len(s)] = 1
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for row, (s, n_prompt) in enumerate(batch):
                targets = torch.tensor(s[n_prompt:])
                lp = logp[row, n_prompt - 1:len(s) - 1].gather(1, targets[:, None]).squeeze(1)
                losses.append(float(-lp.mean()))
    return losses


def summarize(items: list[dict], base: list[float], after: list[float]) -> dict:
    """Mean loss per group and the paired change, with a standard error over answers."""
    out = {}
    for group in ("trained", "control"):
        d = [a - b for it, b, a in zip(items, base, after) if it["group"] == group]
        out[group] = {"answers": len(d), "loss_before": statistics.fmean(b for it, b in zip(items, base) if it["group"] == group),
                      "loss_after": statistics.fmean(a for it, a in zip(items, after) if it["group"] == group),
                      "delta": statistics.fmean(d), "delta_se": statistics.stdev(d) / math.sqrt(len(d))}
    out["effect"] = out["trained"]["delta"] - out["control"]["delta"]
    out["effect_se"] = math.hypot(out["trained"]["delta_se"], out["control"]["delta_se"])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sel = sub.add_parser("select", help="write the trained stories (jsonl) and the probe set (json)")
    sel.add_argument("--out-dir", type=Path, required=True)
    sel.add_argument("--trained", nargs="+", default=TRAINED, help="SPLIT:INDEX or SPLIT:I-J of SQuALITY stories")
    sel.add_argument("--control", nargs="+", default=CONTROL)
    sel.add_argument("--chunk-chars", type=int, default=2000, help="size of the raw arm's documents")
    pr = sub.add_parser("probe", help="answer losses of each model")
    pr.add_argument("--stories", required=True, help="stories.json written by select")
    pr.add_argument("--model", action="append", required=True, help="NAME=HF_DIR; the first is the baseline")
    pr.add_argument("--out", required=True)
    pr.add_argument("--answers-per-question", type=int, default=4, help="SQuALITY has 4 references per question")
    pr.add_argument("--max-answer-tokens", type=int, default=256)
    pr.add_argument("--reuse", nargs="*", default=[], help="earlier outputs: their models' losses are taken as they are")
    args = p.parse_args(argv)
    if args.command == "select":
        select(args.out_dir, args.trained, args.control, args.chunk_chars)
        return 0

    stories = json.loads(Path(args.stories).read_text())
    items = probe_items(stories, args.answers_per_question)
    models = [m.split("=", 1) for m in args.model]
    losses, seconds = {}, {}
    for earlier in map(json.loads, map(Path.read_text, map(Path, args.reuse))):
        if earlier["items"] != [{k: it[k] for k in ("story", "group", "question")} for it in items]:
            raise ValueError("--reuse: that output probed other items")
        losses.update(earlier["losses"])
        seconds.update(earlier["seconds"])
    for name, path in models:
        if name in losses:
            continue
        start = time.perf_counter()
        losses[name] = answer_losses(path, items, args.max_answer_tokens)
        seconds[name] = round(time.perf_counter() - start, 1)
        print(f"{name}: mean answer loss {statistics.fmean(losses[name]):.4f} ({seconds[name]} s)", file=sys.stderr)
    base = models[0][0]
    result = {"command": "python benchmarks/entigraph_probe.py " + " ".join(argv or sys.argv[1:]),
              "load": os.getloadavg(), "prompt": PROMPT, "baseline": base, "models": dict(models), "seconds": seconds,
              "items": [{k: it[k] for k in ("story", "group", "question")} for it in items],
              "losses": losses,
              "summary": {name: summarize(items, losses[base], losses[name]) for name, _ in models[1:]}}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
