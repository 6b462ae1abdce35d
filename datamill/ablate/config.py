"""The ablation config (docs/ABLATIONS.md): typed sections loaded with ``datamill.typed_config``;
paths are relative to the config file, unknown keys and wrong types are one-line errors."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from datamill.typed_config import ConfigError, FilePath, apply_override, build, load_yaml, path_fields


@dataclass
class Arm:
    """One arm: a pipeline config (with ``--set``-style overrides) or a mix of existing shard sets."""

    pipeline: FilePath = ""  # a pipeline config whose token_shards stage writes this arm's shards
    set: list[str] = field(default_factory=list)  # KEY=VALUE overrides of that pipeline, as `datamill run --set`
    shards: list[FilePath] = field(default_factory=list)  # instead of a pipeline: existing token_shards dirs
    weights: dict[str, float] = field(default_factory=dict)  # per-source mixture of the trainer (data.weights); empty = by tokens
    trainer_set: list[str] = field(default_factory=list)  # KEY=VALUE overrides of the proxy trainer for this arm only

    def __post_init__(self):
        if bool(self.pipeline) == bool(self.shards):
            raise ValueError("give either 'pipeline' or 'shards'")
        if self.set and not self.pipeline:
            raise ValueError("'set' overrides a pipeline; this arm has none")


@dataclass
class Reference:
    """A reference evaluation set from local files (never trained on: no arm reads it)."""

    path: FilePath = ""  # a .txt file (one document), or .jsonl / .jsonl.gz / .parquet with one document per row
    text_field: str = "text"  # the text column or JSON key of jsonl / parquet files


@dataclass
class Eval:
    held_out_fraction: float = 0.05  # documents held out per source, by id hash (the trainer's val split)
    from_stage: str = ""  # the baseline pipeline's stage whose documents are the held-out text; "": each source as read
    windows: int = 32  # evaluation windows (seq_len tokens each) per eval set, the same for every arm
    points: int = 4  # evaluations per run, evenly spaced; the last is at the final step
    references: dict[str, Reference] = field(default_factory=dict)  # name -> local reference set

    def __post_init__(self):
        if not 0 < self.held_out_fraction < 1:
            raise ValueError(f"eval.held_out_fraction must be in (0, 1), got {self.held_out_fraction}")
        if self.windows < 1 or self.points < 1:
            raise ValueError("eval.windows and eval.points must be >= 1")


@dataclass
class AblationConfig:
    name: str = "ablation"
    out_dir: FilePath = "runs/ablation"  # data, eval windows, runs, ablation.json and the table go here
    trainer: FilePath = ""  # the proxy trainer config (configs/train-smoke.yaml: tiny, CPU)
    trainer_set: list[str] = field(default_factory=list)  # KEY=VALUE overrides of the trainer for every arm
    tokens: int = 0  # training tokens per (arm, seed), exactly: steps x batch_size x seq_len x grad_accum
    seeds: list[int] = field(default_factory=lambda: [0, 1])  # one run per arm and seed; seeds pair runs across arms
    baseline: str = ""  # the arm every other arm is compared with, seed by seed
    # "": the baseline arm's token_shards tokenizer (trained by its pipeline) is given to every other
    # arm's token_shards, so losses are comparable; or one tokenizer.json for all arms
    tokenizer: FilePath = ""
    arms: dict[str, Arm] = field(default_factory=dict)
    eval: Eval = field(default_factory=Eval)

    def __post_init__(self):
        if not self.trainer:
            raise ValueError("'trainer' (the proxy trainer config) is required")
        if self.tokens <= 0:
            raise ValueError("'tokens' (the training budget of every run) must be positive")
        if len(self.arms) < 2:
            raise ValueError(f"an ablation needs at least 2 arms, got {len(self.arms)}")
        if self.baseline not in self.arms:
            raise ValueError(f"baseline {self.baseline!r} is not an arm (arms: {sorted(self.arms)})")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {self.seeds}")
        bad = [a for a in self.arms if not a.replace("_", "").replace("-", "").isalnum()]
        if bad:
            raise ValueError(f"arm names are used as directory names: letters, digits, - and _ only, got {bad}")


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> AblationConfig:
    """An AblationConfig from a YAML file with ``KEY=VALUE`` overrides; every file it names exists."""
    raw = copy.deepcopy(load_yaml(path, "ablation config"))
    for item in overrides:
        apply_override(raw, item)
    cfg = build(AblationConfig, raw, str(path), Path(path).resolve().parent)
    for key, value, must_exist in path_fields(cfg):
        if must_exist and key != "out_dir" and not Path(value).exists():
            raise ConfigError(f"{path}: key {key!r}: no such file or directory: {value}")
    return cfg
