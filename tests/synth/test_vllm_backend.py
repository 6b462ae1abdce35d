"""The in-process vLLM backend's plumbing, against a stand-in ``vllm`` module (vLLM itself is not a
test dependency; benchmarks/vllm_cpu_check.sh runs the real one)."""

import sys
import types

import pytest

from datamill.synth import backends
from datamill.synth.backend_types import BackendConfig, ChatRequest
from datamill.synth.backends import get_backend


@pytest.fixture
def fake_vllm(monkeypatch):
    made = []

    class LLM:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def chat(self, chats, params, use_tqdm=False):
            out = types.SimpleNamespace(token_ids=[1, 2], text="ok")
            return [types.SimpleNamespace(outputs=[out], prompt_token_ids=[0] * len(c)) for c in chats]

    module = types.SimpleNamespace(LLM=LLM, SamplingParams=lambda **kw: kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(backends, "_BACKENDS", {})
    return made


def test_engine_args_reach_the_engine_and_key_the_backend(fake_vllm, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    cfg = BackendConfig(kind="vllm", model=str(tmp_path), engine_args={"enable_chunked_prefill": False})
    backend = get_backend(cfg)
    assert get_backend(BackendConfig(kind="vllm", model=str(tmp_path),
                                     engine_args={"enable_chunked_prefill": False})) is backend
    assert fake_vllm[0]["enable_chunked_prefill"] is False and fake_vllm[0]["model"] == str(tmp_path)
    other = get_backend(BackendConfig(kind="vllm", model=str(tmp_path), engine_args={"enforce_eager": True}))
    assert other is not backend and len(fake_vllm) == 2  # different engine settings: a second engine
    [result] = backend.generate([ChatRequest.of([{"role": "user", "content": "hi"}], max_tokens=4)])
    assert (result.text, result.completion_tokens) == ("ok", 2)


def test_engine_args_errors_name_the_key():
    with pytest.raises(ValueError, match=r"backend.engine_args: \['dtype'\] have their own backend keys"):
        BackendConfig(kind="vllm", model="m", engine_args={"dtype": "float16"})
    with pytest.raises(ValueError, match="backend.engine_args: expected a mapping, got list"):
        BackendConfig(kind="vllm", model="m", engine_args=["enforce_eager"])
