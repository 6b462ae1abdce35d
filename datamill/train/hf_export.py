"""Hugging Face Llama format, out and in: ``config.json``, ``model.safetensors`` and tokenizer files,
so ``transformers`` and vLLM load our checkpoints, and HF Llama checkpoints (a directory, or a
GGUF through transformers) continue pretraining here. The tensors are HF's under other names;
RoPE already uses HF's layout, so no permutation is needed."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from datamill.train.config import ModelConfig
from datamill.train.model import Transformer


def hf_names(cfg: ModelConfig) -> dict[str, str]:
    """Our parameter name -> Hugging Face Llama's, for every tensor of the checkpoint (no
    ``lm_head`` with tied embeddings: HF ties it to ``embed_tokens`` too)."""
    names = {"embed.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
    if not cfg.tie_embeddings:
        names["lm_head.weight"] = "lm_head.weight"
    for i in range(cfg.n_layer):
        p, h = f"layers.{i}.", f"model.layers.{i}."
        names.update({f"{p}attn.{x}_proj.weight": f"{h}self_attn.{x}_proj.weight" for x in "qkv"})
        names.update({f"{p}mlp.{x}_proj.weight": f"{h}mlp.{x}_proj.weight" for x in ("gate", "up", "down")})
        names.update({p + "attn.proj.weight": h + "self_attn.o_proj.weight",
                      p + "attn_norm.weight": h + "input_layernorm.weight",
                      p + "mlp_norm.weight": h + "post_attention_layernorm.weight"})
    return names


def to_hf_state_dict(model: Transformer) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    return {hf: sd[ours].detach().contiguous() for ours, hf in hf_names(model.cfg).items()}


def from_hf_state_dict(hf: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    names = hf_names(cfg)
    if missing := [name for name in names.values() if name not in hf]:
        raise KeyError(f"HF checkpoint: missing tensor {missing[0]!r}")
    out = {ours: hf[name].float() for ours, name in names.items()}
    if cfg.tie_embeddings:
        out["lm_head.weight"] = out["embed.weight"]
    return out


def hf_config(cfg: ModelConfig, *, bos_id: int | None, eos_id: int | None, dtype: str) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg.vocab_size, "hidden_size": cfg.d_model, "intermediate_size": cfg.ffn_hidden,
        "num_hidden_layers": cfg.n_layer, "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_kv_head, "head_dim": cfg.head_dim, "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len, "rms_norm_eps": cfg.norm_eps, "rope_theta": cfg.rope_theta,
        "rope_scaling": None, "tie_word_embeddings": cfg.tie_embeddings, "attention_bias": False,
        "mlp_bias": False, "attention_dropout": 0.0, "initializer_range": cfg.init_std,
        "bos_token_id": bos_id, "eos_token_id": eos_id, "torch_dtype": dtype, "use_cache": True,
    }


def config_from_hf(c: dict) -> ModelConfig:
    if c.get("model_type") not in ("llama", None) or c.get("attention_bias") or c.get("mlp_bias"):
        raise ValueError(f"HF config: only bias-free Llama models load (model_type={c.get('model_type')!r})")
    if c.get("rope_scaling"):
        raise ValueError(f"HF config: rope_scaling {c['rope_scaling']!r} is not supported")
    n_head = c["num_attention_heads"]
    if c.get("head_dim") not in (None, c["hidden_size"] // n_head):
        raise ValueError(f"HF config: head_dim {c['head_dim']} != hidden_size / num_attention_heads")
    theta = c.get("rope_theta") or (c.get("rope_parameters") or {}).get("rope_theta", 10000.0)
    return ModelConfig(vocab_size=c["vocab_size"], pad_vocab_multiple=1, n_layer=c["num_hidden_layers"],
                       n_head=n_head, n_kv_head=c.get("num_key_value_heads") or n_head, d_model=c["hidden_size"],
                       ffn_hidden=c["intermediate_size"], max_seq_len=c.get("max_position_embeddings", 2048),
                       rope_theta=float(theta), norm_eps=c.get("rms_norm_eps", 1e-6),
                       tie_embeddings=bool(c.get("tie_word_embeddings", False)))


def _token_content(tokenizer_json: Path, token_id: int | None) -> str | None:
    if token_id is None:
        return None
    tok = json.loads(tokenizer_json.read_text())
    for t in tok.get("added_tokens", []):
        if t["id"] == token_id:
            return t["content"]
    vocab = (tok.get("model") or {}).get("vocab") or {}
    return next((k for k, v in vocab.items() if v == token_id), None) if isinstance(vocab, dict) else None


def export_hf(model: Transformer, out_dir: str | Path, *, tokenizer_path: str | Path | None = None,
              eos_id: int | None = None, bos_id: int | None = None, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``out_dir`` as a Hugging Face Llama checkpoint; returns the directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dtype_name = str(dtype).removeprefix("torch.")
    cfg = hf_config(model.cfg, bos_id=bos_id, eos_id=eos_id, dtype=dtype_name)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    gen = {k: v for k, v in {"bos_token_id": bos_id, "eos_token_id": eos_id}.items() if v is not None}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2))
    tensors = {k: v.to("cpu", dtype) for k, v in to_hf_state_dict(model).items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    if tokenizer_path:
        src = Path(tokenizer_path)
        src = src / "tokenizer.json" if src.is_dir() else src
        shutil.copyfile(src, out / "tokenizer.json")
        special = {"eos_token": _token_content(src, eos_id), "bos_token": _token_content(src, bos_id)}
        special = {k: v for k, v in special.items() if v is not None}
        (out / "tokenizer_config.json").write_text(json.dumps(
            {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.cfg.max_seq_len, **special},
            indent=2))
        (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    return out


def load_hf(path: str | Path, *, doc_attention: str = "sdpa_mask", min_seq_len: int = 0) -> Transformer:
    """A Transformer (fp32) from an HF Llama directory (config.json + safetensors) or a .gguf file."""
    path = Path(path)
    if path.suffix == ".gguf":
        cfg_dict, tensors = _read_gguf(path)
    else:
        cfg_file = path / "config.json"
        if not cfg_file.exists():
            raise FileNotFoundError(f"model.init_from: {path} has no config.json")
        cfg_dict, tensors = json.loads(cfg_file.read_text()), _read_weights(path)
    return _build(cfg_dict, tensors, doc_attention, min_seq_len)


def from_transformers(hf_model, *, doc_attention: str = "sdpa_mask", min_seq_len: int = 0) -> Transformer:
    """Convert an in-memory ``transformers`` LlamaForCausalLM."""
    return _build(hf_model.config.to_dict(), {k: v.detach() for k, v in hf_model.state_dict().items()},
                  doc_attention, min_seq_len)


def _build(cfg_dict: dict, tensors: dict[str, torch.Tensor], doc_attention: str, min_seq_len: int) -> Transformer:
    cfg = config_from_hf(cfg_dict)
    cfg = replace(cfg, doc_attention=doc_attention, max_seq_len=max(cfg.max_seq_len, min_seq_len))
    model = Transformer(cfg)
    model.load_state_dict(from_hf_state_dict(tensors, cfg))
    return model


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    index = path / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (path / "model.safetensors").exists():
        files = ["model.safetensors"]
    else:
        raise FileNotFoundError(f"model.init_from: {path} has no model.safetensors")
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        tensors.update(load_file(str(path / f)))
    return tensors


def _read_gguf(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Dequantize a GGUF Llama with transformers (needs transformers and gguf installed)."""
    try:
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        raise ImportError(f"model.init_from: loading {path.name} needs transformers and gguf") from e
    hf = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    return hf.config.to_dict(), {k: v.detach() for k, v in hf.state_dict().items()}


def gguf_tokenizer(gguf: str | Path, out_dir: str | Path) -> Path:
    """Write the tokenizer inside a GGUF file as ``out_dir/tokenizer.json``, so ``token_shards``
    (``tokenizer: {path: ...}``) can tokenize data for continued pretraining of that model."""
    from transformers import AutoTokenizer

    gguf = Path(gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    out = Path(out_dir)
    tok.save_pretrained(str(out))
    if not (out / "tokenizer.json").exists():
        raise RuntimeError(f"{gguf}: transformers produced no fast tokenizer (tokenizer.json)")
    return out / "tokenizer.json"
