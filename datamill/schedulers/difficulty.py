"""Per-document difficulty tables computed from token shards, for ``Curriculum(scores=...)``.

- ``compression_difficulty``: compressed / raw size of a document's text tokens under raw
  DEFLATE (zlib, level 9): the inverse of the compression ratio, so higher is harder (less
  redundant). Zhang et al. 2025 (arXiv 2506.11300) found compression ratio among the best
  curriculum difficulty signals. Short documents compress poorly, so it correlates with length.
- ``ppl_difficulty``: mean next-token loss (nats) of a document's first ``max_tokens`` text tokens
  under a trained datamill checkpoint (a run dir with ``config.json`` and ``checkpoints/``), the
  perplexity curriculum of continued pretraining (e.g. Llama-3-SynE).

Both return ``pa.Table(id, <name>)`` in shard-index order; ``write_scores`` stores one as Parquet.
CLI: ``python -m datamill.schedulers.difficulty {compression,perplexity} SHARD_DIR... -o OUT.parquet
[--run RUN_DIR --max-tokens 256 --device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datamill.shards import ShardSet


def _documents(shard_dirs: list[str]):
    """(id, text tokens) of every document of every shard dir, in index order."""
    for d in shard_dirs:
        s = ShardSet(d, verify="size")
        index = s.index()
        cols = {c: index.column(c).to_numpy() for c in ("shard", "offset", "length", "prefix_len")}
        for i, doc_id in enumerate(index.column("id").to_pylist()):
            start = int(cols["offset"][i] + cols["prefix_len"][i])
            end = int(cols["offset"][i] + cols["length"][i] - 1)  # the last token is EOS
            yield doc_id, s.shards[int(cols["shard"][i])].tokens[start:end]


def compression_difficulty(shard_dirs: list[str], *, level: int = 9) -> pa.Table:
    ids, values = [], []
    for doc_id, toks in _documents(shard_dirs):
        raw = np.ascontiguousarray(toks).tobytes()
        c = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: no header to penalise short docs
        size = len(c.compress(raw) + c.flush())
        ids.append(doc_id)
        values.append(size / len(raw) if raw else float("nan"))
    return pa.table({"id": pa.array(ids, pa.string()), "compression_difficulty": pa.array(values, pa.float64())})


def load_model(run_dir: str, device: str = "cpu"):
    """The newest checkpoint of a datamill training run, in eval mode."""
    import torch

    from datamill.train.checkpoint import latest_checkpoint
    from datamill.train.config import ModelConfig
    from datamill.train.model import Transformer

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
    import torch
    import torch.nn.functional as F

    model = load_model(run_dir, device)
    max_tokens = min(max_tokens, model.cfg.max_seq_len)
    docs = list(_documents(shard_dirs))
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


def write_scores(table: pa.Table, path: str) -> str:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m datamill.schedulers.difficulty",
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
