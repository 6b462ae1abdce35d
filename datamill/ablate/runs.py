"""One proxy training run per (arm, seed), on exactly ``tokens`` tokens, scored on the eval sets at
evenly spaced steps. A run that finished with the same key (trainer config, shard manifests, eval
windows) is read back, never retrained; an interrupted one resumes from its last checkpoint."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from datamill.ablate.config import AblationConfig
from datamill.ablate.evalsets import EvalWindows
from datamill.shards import ShardSet
from datamill.train.config import TrainConfig, load_config
from datamill.train.data import val_mask
from datamill.typed_config import ConfigError

log = logging.getLogger(__name__)
RESULT = "result.json"


def trainer_config(cfg: AblationConfig, arm: str, shards: list[str], seed: int, val_batches: int) -> TrainConfig:
    """The proxy trainer config of one run: the ablation's and the arm's overrides, then what the
    ablation fixes (shards, seed, step count for the budget, held-out fraction, evaluation steps)."""
    user = [*cfg.trainer_set, *cfg.arms[arm].trainer_set]
    where = f"arm {arm!r}: trainer {cfg.trainer}"
    try:
        base = load_config(cfg.trainer, user)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    per_step = base.data.batch_size * base.data.seq_len * base.data.grad_accum
    if cfg.tokens % per_step:
        lo = cfg.tokens // per_step * per_step
        near = f"{lo} or {lo + per_step}" if lo else f"{per_step} or a multiple"
        raise ConfigError(f"{where}: tokens={cfg.tokens} is not a whole number of steps of {per_step} tokens "
                          f"(batch_size x seq_len x grad_accum); use {near}")
    steps = cfg.tokens // per_step
    forced = {"out_dir": str(Path(cfg.out_dir) / "runs" / arm / f"seed{seed}"), "seed": seed, "steps": steps,
              "export_hf": False, "data.shards": shards, "data.weights": cfg.arms[arm].weights,
              "data.val_fraction": cfg.eval.held_out_fraction, "data.val_batches": val_batches,
              "data.build": "", "eval_interval": max(1, steps // cfg.eval.points)}
    return load_config(cfg.trainer, user + [f"{k}={json.dumps(v)}" for k, v in forced.items()])


def run_key(tcfg: TrainConfig, eval_sets: dict[str, dict]) -> str:
    """What a finished run's result depends on: the trainer config and the bytes it read."""
    manifests = [hashlib.sha256((Path(d) / "manifest.json").read_bytes()).hexdigest() for d in tcfg.data.shards]
    blob = {**tcfg.to_dict(), "resume": None}
    evals = {k: v["sha256"] for k, v in eval_sets.items()}
    return hashlib.sha256(json.dumps([blob, manifests, evals], sort_keys=True, default=str).encode()).hexdigest()[:20]


def train_tokens(shard_dirs: list[str], held_out_fraction: float) -> dict[str, dict]:
    """Per source: the tokens an arm can train on (held-out documents excluded) and how many
    held-out documents its shards hold (never read in training)."""
    out: dict[str, dict] = {}
    for d in shard_dirs:
        index = ShardSet(d, verify="size").index()
        held = val_mask(index.column("id_hash").to_numpy(), held_out_fraction)
        length = index.column("length").to_numpy()
        for src in sorted(set(index.column("source").to_pylist())):
            mine = np.asarray(index.column("source").to_pylist(), dtype=object) == src
            rec = out.setdefault(src, {"tokens": 0, "held_out_docs": 0})
            rec["tokens"] += int(length[mine & ~held].sum())
            rec["held_out_docs"] += int((mine & held).sum())
    return out


def read_curve(out_dir: Path, per_step: int) -> list[dict]:
    """The evaluations of ``metrics.jsonl``: step, tokens and each eval set's loss."""
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines() if line]
    return [{"step": r["step"], "tokens": r["step"] * per_step,
             **{k.split("/", 1)[1]: v for k, v in r.items() if k.startswith("val_loss/")}}
            for r in rows if "val_loss" in r]


def run_one(tcfg: TrainConfig, key: str, windows: dict[str, np.ndarray], eos: int) -> tuple[dict, bool]:
    """The run's result and whether it trained now (False: read back from a finished run)."""
    from datamill.train.loop import train

    out = Path(tcfg.out_dir)
    done = json.loads((out / RESULT).read_text()) if (out / RESULT).exists() else None
    if done and done["key"] == key:
        return done, False
    key_file = out / "key.json"
    if out.exists() and (not key_file.exists() or json.loads(key_file.read_text())["key"] != key):
        log.info("%s: config or data changed since it ran: training it again from scratch", out)
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    key_file.write_text(json.dumps({"key": key}))
    per_step = tcfg.data.batch_size * tcfg.data.seq_len * tcfg.data.grad_accum
    started = time.perf_counter()
    result = train(tcfg, val_loader=EvalWindows(windows, eos, tcfg.data.batch_size))
    wall = time.perf_counter() - started  # this session's part when the run resumed a checkpoint
    if result["tokens"] != tcfg.steps * per_step:
        raise RuntimeError(f"{out}: trained {result['tokens']} tokens, not the budget {tcfg.steps * per_step} "
                           "(a batch-size schedule changes tokens per step; ablations need a fixed batch)")
    curve = read_curve(out, per_step)
    record = {"key": key, "tokens": result["tokens"], "steps": result["step"], "wall_seconds": round(wall, 2),
              "final_train_loss": result.get("loss"), "final": {k: v for k, v in curve[-1].items()
                                                                if k not in ("step", "tokens")},
              "curve": curve}
    (out / RESULT).write_text(json.dumps(record, indent=1))
    return record, True
