"""The trainer config of one run of benchmarks/d4_experiment.py or benchmarks/mixture_search.py:
the tiny CPU model those scripts describe, or a trainer YAML (``--trainer configs/train-124m.yaml``
on a GPU), with the run's own output dir, seed and shards, and a token budget turned into steps."""

from __future__ import annotations

import copy
import json
from pathlib import Path


def tiny(steps: int, d_model: int, batch_size: int, eval_interval: int, val_batches: int) -> dict:
    """A 2-layer, 4-head Llama-style model on 128-token windows, fp32 on one CPU thread."""
    return {"device": "cpu", "steps": steps, "log_interval": 25, "eval_interval": eval_interval,
            "checkpoint_interval": 0, "export_hf": False, "cooldown_fraction": 0.0,
            "model": {"n_layer": 2, "n_head": 4, "d_model": d_model},
            "data": {"seq_len": 128, "batch_size": batch_size, "val_batches": val_batches},
            "optim": {"lr": 3e-3, "warmup_steps": 20}}


def trainer_config(base: str | None, small: dict, *, out: Path, seed: int, shards: list[str],
                   tokens: int = 0, data: dict | None = None, overrides: list[str] = ()):
    """``base`` (a YAML file) or ``small`` (a mapping), then out_dir/seed/shards, ``data`` keys, and
    ``overrides`` (``--set`` style); with ``tokens`` > 0, steps = tokens / tokens per step."""
    from datamill.train.config import load_config

    run = [f"out_dir={json.dumps(str(out))}", f"seed={seed}", f"data.shards={json.dumps(shards)}",
           "export_hf=false", "cooldown_fraction=0.0"]
    run += [f"data.{k}={json.dumps(v)}" for k, v in (data or {}).items()]
    if base:
        cfg = load_config(base, run + list(overrides))
    else:
        cfg = load_config(copy.deepcopy(small), run + list(overrides))
    if tokens:
        per_step = cfg.data.batch_size * cfg.data.seq_len * cfg.data.grad_accum
        if tokens % per_step:
            raise ValueError(f"tokens {tokens} is not a whole number of steps of {per_step} tokens")
        cfg.steps = tokens // per_step
        if cfg.optim.warmup_steps >= cfg.steps:
            cfg.optim.warmup_steps = max(1, cfg.steps // 20)
    return cfg
