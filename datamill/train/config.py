"""Typed trainer config: one dataclass per section, loaded from YAML with ``datamill.typed_config``
(unknown keys and wrong types are errors that name the key; ``--set`` values are YAML).
Hyperparameter defaults cite where they come from.

Paths (``FilePath``) are relative to the config file's directory and are made absolute when a file
is loaded; a mapping (tests, scripts) has no file, so its relative paths stay as they are, i.e.
relative to the working directory of whoever opens them.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from datamill.schedulers.compose import SamplerConfig
from datamill.typed_config import FilePath, apply_override, build, load_yaml


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
    doc_attention: Literal["sdpa_mask", "flex", "none"] = "sdpa_mask"  # none: attend across packed documents
    init_from: FilePath = ""  # a Hugging Face Llama checkpoint dir or .gguf file to continue pretraining

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
    shards: list[FilePath] = field(default_factory=list)  # shard dirs of a generic corpus
    rate: float = 0.1  # EntiGraph (Yang et al. 2024) `--rr 0.1`: each sequence is replay w.p. 0.1


@dataclass
class DataConfig:
    shards: list[FilePath] = field(default_factory=list)  # token_shards stage dirs
    weights: dict[str, float] = field(default_factory=dict)  # per-source mixture; empty = by tokens
    seq_len: int = 1024
    batch_size: int = 32  # sequences per micro-batch per rank
    grad_accum: int = 1  # micro-batches per optimizer step
    val_fraction: float = 0.01  # held-out windows for validation
    val_batches: int = 4  # batches per validation pass
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    # MeCo's reference run cools down on unseen documents without prefixes; empty = the same
    # shards with prefixes stripped (what the loader's set_strip_metadata does)
    cooldown_shards: list[FilePath] = field(default_factory=list)
    build: FilePath = ""  # a pipeline config file writing the shards; `datamill train` runs it when they are missing
    sampler: SamplerConfig = field(default_factory=SamplerConfig)  # curriculum, domain weights, batch-size schedule


@dataclass
class OptimConfig:
    lr: float = 6e-4  # nanoGPT GPT-2 124M
    min_lr_ratio: float = 0.1  # MeCo / Chinchilla: decay to 10% of peak
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
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
    out_dir: FilePath = "runs/train"
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: cuda when available
    precision: Literal["bf16", "fp32"] = "bf16"  # bf16 autocast on GPU; CPU always runs fp32
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
    peak_tflops: float = 989.0  # dense bf16 per GPU, H100 SXM / H200 (docs/PERFORMANCE.md)
    export_hf: bool = True  # write out_dir/hf at the end
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """A TrainConfig from a YAML file or a mapping, with ``KEY=VALUE`` overrides (values parsed as
    YAML) applied. A file's relative paths are resolved against its directory; a mapping's are kept."""
    if isinstance(source, dict):
        raw, where, base = copy.deepcopy(source), "trainer config", None
    else:
        raw, where, base = load_yaml(source, "trainer config"), str(source), Path(source).resolve().parent
    for item in overrides:
        apply_override(raw, item)
    return build(TrainConfig, raw, where, base)
