"""Per-document difficulty under a trained model, for ``Curriculum(scores=...)``, and the CLI that
writes difficulty tables.

``ppl_difficulty``: mean next-token loss (nats) of a document's first ``max_tokens`` text tokens
under a trained datamill checkpoint (a run dir with ``config.json`` and ``checkpoints/``), the
perplexity curriculum of continued pretraining (e.g. Llama-3-SynE). Returns ``pa.Table(id,
ppl_difficulty)`` in shard-index order, like ``datamill.schedulers.difficulty.compression_difficulty``.

CLI: ``python -m datamill.train.difficulty {compression,perplexity} SHARD_DIR... -o OUT.parquet
[--run RUN_DIR --max-tokens 256 --device cpu]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from datamill.schedulers.difficulty import compression_difficulty, documents, write_scores
from datamill.train.checkpoint import latest_checkpoint
from datamill.train.config import ModelConfig
from datamill.train.model import Transformer


def load_model(run_dir: str, device: str = "cpu"):
    """The newest checkpoint of a datamill training run, in eval mode."""
    run = Path(run_dir)
    ckpt = latest_checkpoint(run / "checkpoints")
    if not (run / "config.json").is_file() or ckpt is None:
        raise FileNotFoundError(f"difficulty: {run_dir} is not a datamill run dir (config.json and "
                                f"checkpoints/step-*.pt expected)")
    model = Transformer(ModelConfig(**json.loads((run / "config.json").read_text())["model"]))
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["model"]
    model.load_state_dict(state)
    return model.to(device).eval()


def perplexity_difficulty(shard_dirs: list[str], run_dir: str, *, max_tokens: int = 256, batch_size: int = 16,
                          device: str = "cpu") -> pa.Table:
    model = load_model(run_dir, device)
    max_tokens = min(max_tokens, model.cfg.max_seq_len)
    docs = list(documents(shard_dirs))
    nll = np.full(len(docs), np.nan)
    lens = np.array([min(len(t), max_tokens + 1) for _, t in docs])
    order = np.argsort(lens, kind="stable")  # similar lengths together: little padding
    with torch.no_grad():
        for lo in range(0, len(order), batch_size):
            rows = [r for r in order[lo:lo + batch_size].tolist() if lens[r] >= 2]
            if not rows:
                continue
            T = int(lens[rows].max()) - 1
            x = torch.zeros(len(rows), T + 1, dtype=torch.int64)
            mask = torch.zeros(len(rows), T)
            for k, r in enumerate(rows):
                t = torch.from_numpy(np.asarray(docs[r][1][:lens[r]], np.int64))
                x[k, :len(t)] = t
                mask[k, :len(t) - 1] = 1
            x, mask = x.to(device), mask.to(device)
            logits = model(x[:, :-1]).float()  # causal: padding after a document cannot change its logits
            ce = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten(), reduction="none").view_as(mask)
            nll[rows] = ((ce * mask).sum(1) / mask.sum(1)).cpu().numpy()
    return pa.table({"id": pa.array([d for d, _ in docs], pa.string()), "ppl_difficulty": pa.array(nll)})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m datamill.train.difficulty",
                                 description="Per-document difficulty tables for curricula.")
    ap.add_argument("kind", choices=["compression", "perplexity"])
    ap.add_argument("shards", nargs="+", help="token_shards directories")
    ap.add_argument("-o", "--output", required=True, help="Parquet file to write (id, <kind>_difficulty)")
    ap.add_argument("--run", help="perplexity: a datamill training run dir")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    if args.kind == "compression":
        table = compression_difficulty(args.shards)
    else:
        if not args.run:
            ap.error("perplexity needs --run RUN_DIR")
        table = perplexity_difficulty(args.shards, args.run, max_tokens=args.max_tokens, device=args.device)
    write_scores(table, args.output)
    print(f"{table.num_rows} documents -> {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
