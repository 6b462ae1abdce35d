"""Typed trainer config: one dataclass per section, loaded from YAML (or JSON); unknown keys and
wrong types are errors that name the key. Hyperparameter defaults cite where they come from."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class TrainConfigError(ValueError):
    pass


@dataclass
class ModelConfig:
    vocab_size: int = 0  # 0: the shards' tokenizer vocabulary, rounded up to pad_vocab_multiple
    pad_vocab_multiple: int = 64  # nanoGPT pads 50257 -> 50304 for faster matmuls
    n_layer: int = 12  # GPT-2 small (124M)
    n_head: int = 12
    n_kv_head: int = 0  # 0: n_head (no grouped-query attention)
    d_model: int = 768
    ffn_hidden: int = 0  # 0: 8/3 * d_model rounded up to 64 (Llama; same parameters as a 4x GELU MLP)
    max_seq_len: int = 0  # 0: data.seq_len
    rope_theta: float = 10000.0  # Llama 2
    norm_eps: float = 1e-5  # Llama 2
    tie_embeddings: bool = True  # GPT-2 / SmolLM2 tie input and output embeddings
    init_std: float = 0.02  # GPT-2
    doc_attention: str = "sdpa_mask"  # sdpa_mask | flex | none (none: attend across packed documents)
    init_from: str = ""  # a Hugging Face Llama checkpoint dir or .gguf file to continue pretraining

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def resolved(self, vocab_size: int, seq_len: int) -> ModelConfig:
        """Fill the 0 = "derive" fields from the data."""
        m = self.pad_vocab_multiple
        ffn = self.ffn_hidden or -(-(8 * self.d_model // 3) // 64) * 64
        return dataclasses.replace(
            self, vocab_size=self.vocab_size or -(-vocab_size // m) * m, n_kv_head=self.n_kv_head or self.n_head,
            ffn_hidden=ffn, max_seq_len=self.max_seq_len or seq_len)


@dataclass
class ReplayConfig:
    shards: list[str] = field(default_factory=list)  # shard dirs of a generic corpus
    rate: float = 0.1  # EntiGraph (Yang et al. 2024) `--rr 0.1`: each sequence is replay w.p. 0.1


@dataclass
class DataConfig:
    shards: list[str] = field(default_factory=list)  # token_shards stage dirs
    weights: dict[str, float] = field(default_factory=dict)  # per-source mixture; empty = by tokens
    seq_len: int = 1024
    batch_size: int = 32  # sequences per micro-batch per rank
    grad_accum: int = 1  # micro-batches per optimizer step
    val_fraction: float = 0.01  # held-out windows for validation
    val_batches: int = 4  # batches per validation pass
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    # MeCo's reference run cools down on unseen documents without prefixes; empty = the same
    # shards with prefixes stripped (what the loader's set_strip_metadata does)
    cooldown_shards: list[str] = field(default_factory=list)
    build: Any = None  # a pipeline config (path or mapping) run first when a shard dir is missing
    sampler: dict[str, Any] = field(default_factory=dict)  # {"class": "module:Name", **kwargs}


@dataclass
class OptimConfig:
    lr: float = 6e-4  # nanoGPT GPT-2 124M
    min_lr_ratio: float = 0.1  # MeCo / Chinchilla: decay to 10% of peak
    schedule: str = "cosine"  # cosine | wsd | constant
    warmup_steps: int = 0  # absolute; used when > 0
    warmup_fraction: float = 0.05  # MeCo run configs: 5% warmup
    decay_fraction: float = 0.2  # WSD: final 20% decays, 1-sqrt shape (Hägele et al. 2024, arXiv 2405.18392)
    weight_decay: float = 0.1  # nanoGPT
    beta1: float = 0.9
    beta2: float = 0.95  # MeCo: "important for avoiding loss spikes"
    eps: float = 1e-8
    grad_clip: float = 1.0  # nanoGPT; 0 disables


@dataclass
class TrainConfig:
    out_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # auto (cuda when available) | cpu | cuda
    precision: str = "bf16"  # bf16 autocast on GPU | fp32; CPU always runs fp32
    compile: bool = False
    # passed to torch.compile(options=...), e.g. {"triton.prefer_nd_tiling": true}; at 124M on an
    # H200 that one is now within noise of the default for a 6x longer compile (results/trainer.md)
    compile_options: dict[str, Any] = field(default_factory=dict)
    steps: int = 1000
    log_interval: int = 10
    eval_interval: int = 200  # 0: only at the end
    checkpoint_interval: int = 0  # 0: only at the end
    resume: bool = True  # continue from the newest checkpoint in out_dir/checkpoints
    cooldown_fraction: float = 0.1  # MeCo (Gao et al. 2025): last 10% without metadata prefixes
    peak_tflops: float = 989.0  # dense bf16 per GPU, H100 SXM / H200 (PERF.md)
    export_hf: bool = True  # write out_dir/hf at the end
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check(value: Any, tp: Any, key: str) -> Any:
    """Coerce/validate one value against a type hint; errors name the dotted key."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TrainConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        for arm in typing.get_args(tp):
            try:
                return _check(value, arm, key)
            except TrainConfigError:
                pass
        raise TrainConfigError(f"{key}: {value!r} does not match {tp}")
    if origin is list:
        if not isinstance(value, list):
            raise TrainConfigError(f"{key}: expected a list, got {value!r}")
        (arg,) = typing.get_args(tp)
        return [_check(v, arg, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise TrainConfigError(f"{key}: expected a mapping, got {value!r}")
        kt, vt = typing.get_args(tp)
        return {_check(k, kt, key): _check(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is type(None) and value is None:
        return None
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise TrainConfigError(f"{key}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls, raw: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise TrainConfigError(f"unknown key(s) {', '.join(prefix + k for k in unknown)}; "
                               f"expected one of {', '.join(sorted(names))}")
    return cls(**{k: _check(v, hints[k], prefix + k) for k, v in raw.items()})


def set_override(raw: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as JSON when it parses, else a string)."""
    key, sep, text = assignment.partition("=")
    if not sep:
        raise TrainConfigError(f"override {assignment!r}: expected key=value")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = {"true": True, "True": True, "false": False, "False": False}.get(text, text)
    *parents, last = key.split(".")
    node = raw
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


def load_config(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """A TrainConfig from a YAML/JSON path or a mapping, with ``key=value`` overrides applied."""
    if isinstance(source, dict):
        raw = json.loads(json.dumps(source))
    else:
        text = Path(source).read_text()
        raw = json.loads(text) if str(source).endswith(".json") else _parse_yaml(text)
    for o in overrides:
        set_override(raw, o)
    return from_dict(TrainConfig, raw or {})


def _parse_yaml(text: str) -> dict:
    try:
        import yaml
    except ImportError:  # a bare GPU box: torch, numpy, pyarrow only
        from datamill.train.miniyaml import parse

        return parse(text)
    return yaml.safe_load(text)
