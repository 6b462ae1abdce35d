#!/usr/bin/env bash
# The GPU variants of the D4, mixture-search and MeCo experiments (benchmarks/EXPERIMENTS.md, "D4",
# "Mixture search" and "MeCo"), in order, on one GPU; every raw output is copied under $OUT. Not run
# yet: the published numbers are CPU-only.
#
#   D4_WEB_CORPUS='bench-data/d4-web/*.jsonl.gz' bash benchmarks/gpu/experiments.sh
#
# D4_WEB_CORPUS: jsonl(.gz) web text ("text", optional "id"/"url"), >= 2B tokens so that each
# half-selection covers the 1B-token budget once (configs/ablate-d4-gpu.yaml); nothing is downloaded.
# DATAMILL_SHARED_DATA: the shared data dir (squality, web-trafilatura), default ../shared/data.
# MIX_SHARDS (optional): a token_shards dir with exactly three sources for the mixture search;
# without it the search uses the CPU experiment's three small sources (about 4M tokens in all), which
# the 250M-token check runs repeat ~60 times: a scale check of the method, not of the mixture.
# Time on one H200 (estimate from results/trainer.md, ~510k tokens/s at 124M): D4 6 runs x 1B tokens,
# ~35 min each (~3.5 h); mixture search 10 proxies + 6 check runs of 250M tokens at 124M, ~1 h;
# MeCo 4 runs x 1B tokens, ~2.3 h (skipped unless its corpus, see configs/ablate-meco-gpu-data.yaml,
# is in place: MECO=1 to run it).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-benchmarks/results/gpu-experiments-$(date -u +%Y-%m-%d)}
: "${D4_WEB_CORPUS:?set D4_WEB_CORPUS to a jsonl(.gz) glob of >= 2B tokens of web text}"
mkdir -p "$OUT/d4" "$OUT/mixture"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
git rev-parse HEAD > "$OUT/commit.txt" 2>/dev/null || true
export HF_HUB_OFFLINE=1

# 1. D4: random vs SemDeDup vs D4, 124M model, 1B tokens per run, 2 seeds
PYTHONPATH=. $PY benchmarks/d4_experiment.py --config configs/ablate-d4-gpu.yaml --work runs/d4-experiment-gpu \
    --web-corpus "$D4_WEB_CORPUS" --name d4_experiment_gpu 2>&1 | tee "$OUT/d4/log.txt"
cp -r runs/d4-experiment-gpu/ablation.json runs/d4-experiment-gpu/ablation.md runs/d4-experiment-gpu/figures \
    benchmarks/results/d4_experiment_gpu.json benchmarks/results/d4_experiment_gpu.md "$OUT/d4/"

# 2. Mixture search: 10 proxies (a 4-layer d256 model, 100M tokens each), regression, check runs at 124M
#    (250M tokens each) of the predicted mix vs uniform vs dynamic domain weights, 2 seeds
PYTHONPATH=. $PY benchmarks/mixture_search.py --work runs/mixture-search-gpu --name mixture_search_gpu \
    --proxy-trainer configs/train-mixture-proxy-gpu.yaml --proxy-tokens 100007936 \
    --trainer configs/train-124m.yaml --tokens 250085376 --seeds 0,1 ${MIX_SHARDS:+--shards "$MIX_SHARDS"} 2>&1 | tee "$OUT/mixture/log.txt"
cp benchmarks/results/mixture_search_gpu.json benchmarks/results/mixture_search_gpu.md "$OUT/mixture/"
cp runs/mixture-search-gpu/regression.json "$OUT/mixture/"

# 3. MeCo: plain vs URL-conditioned with the 10% cooldown, 124M model, 1B tokens per run, 2 seeds
if [ "${MECO:-0}" = 1 ]; then
  mkdir -p "$OUT/meco"
  PYTHONPATH=. $PY -m datamill.cli ablate configs/ablate-meco-gpu.yaml 2>&1 | tee "$OUT/meco/log.txt"
  cp -r runs/ablate-meco-gpu/ablation.json runs/ablate-meco-gpu/ablation.md runs/ablate-meco-gpu/figures "$OUT/meco/"
fi
echo "raw outputs in $OUT"
