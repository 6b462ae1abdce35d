"""Mixture search (RegMix, Liu et al. 2024; data mixing laws, Ye et al. 2024) at small scale on CPU.

N proxy runs (a smaller model, fewer steps) with mixture weights drawn from Dirichlet(1) over three
real sources; a regression from weights to validation loss; the mix it predicts best; and check
runs at the target scale that compare the predicted mix with uniform weights and with dynamic
domain weights (Sheared LLaMA, reference = the uniform target run of the same seed), two seeds.

Data: the shards of benchmarks/schedulers_experiment.py (docs = CPython documentation, stories =
SQuALITY, web = trafilatura pages; 5% of documents held out by id hash; a 2,048-token BPE).
Objective: the mean of the three per-source validation losses (each source weighted equally).
Regression (chosen before any run): per source, loss_s = a_s + sum_j b_sj log(w_j), least
squares; the predicted mean loss is minimized on a 0.01 grid of the simplex with every weight
>= 0.05. Leave-one-out over the proxies says how well it predicts, against the trivial predictor
(the mean of the other proxies); a linear-in-weights fit is reported beside it.

Usage: nice -n 10 .venv/bin/python benchmarks/mixture_search.py [--proxies 10] [--seeds 0,1]
GPU (benchmarks/gpu/experiments.sh): --proxy-trainer/--trainer YAMLs, --proxy-tokens/--tokens, --shards.
Writes runs/mixture-search/, benchmarks/results/mixture_search.{json,md}, benchmarks/figures/mixture_*.png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "mixture-search"
SOURCES = ("docs", "stories", "web")  # the sources of the default shards (any three with --shards)
MIN_WEIGHT = 0.05
sys.path.insert(0, str(ROOT / "benchmarks"))


def sample_weights(n: int, seed: int = 0) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [dict(zip(SOURCES, map(float, w))) for w in rng.dirichlet(np.ones(len(SOURCES)), size=n)]


def features(w: np.ndarray, kind: str) -> np.ndarray:
    """Design matrix rows for weight vectors ``w`` (n, k): log-linear or linear (one weight dropped:
    they sum to 1)."""
    w = np.atleast_2d(w)
    x = np.log(np.clip(w, 1e-3, None)) if kind == "loglinear" else w[:, :-1]
    return np.hstack([np.ones((len(w), 1)), x])


def fit(w: np.ndarray, losses: np.ndarray, kind: str) -> np.ndarray:
    """Least-squares coefficients (features x sources) from weights (n, k) to per-source losses (n, s)."""
    return np.linalg.lstsq(features(w, kind), losses, rcond=None)[0]


def predict(coef: np.ndarray, w: np.ndarray, kind: str) -> np.ndarray:
    return features(w, kind) @ coef


def simplex_grid(step: float = 0.01, low: float = MIN_WEIGHT) -> np.ndarray:
    n = round(1 / step)
    pts = [(i, j, n - i - j) for i in range(n + 1) for j in range(n + 1 - i)]
    g = np.array(pts, np.float64) / n
    return g[(g >= low - 1e-9).all(1)]


def loo(w: np.ndarray, losses: np.ndarray, kind: str) -> dict:
    """Leave-one-out predictions of the objective (mean over sources) against the trivial predictor."""
    from scipy.stats import spearmanr

    y = losses.mean(1)
    pred, trivial = [], []
    for i in range(len(w)):
        m = np.arange(len(w)) != i
        pred.append(float(predict(fit(w[m], losses[m], kind), w[i:i + 1], kind).mean()))
        trivial.append(float(y[m].mean()))
    pred, trivial = np.array(pred), np.array(trivial)
    return {"mae": float(np.abs(pred - y).mean()), "trivial_mae": float(np.abs(trivial - y).mean()),
            "spearman": float(spearmanr(pred, y).statistic), "predictions": pred.tolist()}


def final_eval(run: Path) -> dict:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "val_loss" in r][-1]


def train_run(name: str, shards: Path, weights: dict | None, seed: int, steps: int, d_model: int, args,
              sampler: dict | None = None, tokens: int = 0, base: str | None = None) -> dict:
    from datamill.train.loop import train
    from experiment_trainer import tiny, trainer_config

    out = args.work / "runs" / name
    cfg = trainer_config(base, tiny(steps, d_model, args.batch_size, args.eval_interval, args.val_batches),
                         out=out, seed=seed, shards=[str(shards)], tokens=tokens,
                         data={"val_fraction": 0.05, "weights": weights or {}, "sampler": sampler or {}},
                         overrides=args.set)
    metrics = out / "metrics.jsonl"
    if metrics.exists() and any(json.loads(x).get("step") == cfg.steps and "val_loss" in json.loads(x)
                                for x in metrics.read_text().splitlines()):
        return final_eval(out)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    train(cfg)
    print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    return final_eval(out)


def per_source(ev: dict) -> list[float]:
    return [ev[f"val_loss/{s}"] for s in SOURCES]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proxies", type=int, default=10)
    ap.add_argument("--proxy-steps", type=int, default=100)
    ap.add_argument("--proxy-d-model", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200, help="target-scale check runs")
    ap.add_argument("--d-model", type=int, default=128, help="target-scale check runs")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--eval-interval", type=int, default=25)
    ap.add_argument("--val-batches", type=int, default=12)
    ap.add_argument("--seeds", default="0,1", help="seeds of the check runs")
    ap.add_argument("--proxy-seed", type=int, default=0, help="seed of every proxy run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--trainer", default=None, help="trainer YAML of the check runs instead of the tiny model (GPU)")
    ap.add_argument("--proxy-trainer", default=None, help="trainer YAML of the proxy runs (GPU)")
    ap.add_argument("--tokens", type=int, default=0, help="training tokens per check run (with --trainer)")
    ap.add_argument("--proxy-tokens", type=int, default=0, help="training tokens per proxy run (with --proxy-trainer)")
    ap.add_argument("--set", action="append", default=[], help="trainer override KEY=VALUE, for every run")
    ap.add_argument("--shards", default=None, help="a token_shards dir with docs/stories/web sources instead of "
                    "building the schedulers experiment's")
    ap.add_argument("--work", type=Path, default=WORK, help="where the runs go")
    ap.add_argument("--name", default="mixture_search", help="results/<name>.json, .md and figures/<name>.png")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from schedulers_experiment import build_shards, prepare_sources

    if args.shards:
        shards = Path(args.shards)
    else:
        common = ROOT / "runs" / "schedulers-experiment"
        prepare_sources(common)
        shards = build_shards(common, 2048, 128)
    global SOURCES
    SOURCES = tuple(sorted(json.loads((shards / "manifest.json").read_text())["sources"]))
    if len(SOURCES) != 3:
        raise SystemExit(f"{shards}: the search grid is over three sources, the shards have {list(SOURCES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    mixes = sample_weights(args.proxies)
    proxies = []
    for i, w in enumerate(mixes):
        ev = train_run(f"proxy{i:02d}", shards, w, args.proxy_seed, args.proxy_steps, args.proxy_d_model, args,
                       tokens=args.proxy_tokens, base=args.proxy_trainer)
        proxies.append({"weights": w, "losses": dict(zip(SOURCES, per_source(ev)))})
    W = np.array([[p["weights"][s] for s in SOURCES] for p in proxies])
    L = np.array([[p["losses"][s] for s in SOURCES] for p in proxies])
    coef = fit(W, L, "loglinear")
    grid = simplex_grid()
    pred = predict(coef, grid, "loglinear").mean(1)
    best = dict(zip(SOURCES, map(float, grid[int(np.argmin(pred))])))
    uniform = {s: 1.0 / len(SOURCES) for s in SOURCES}
    regression = {"kind": "loglinear", "coef": coef.tolist(), "best": best,
                  "predicted_best": float(pred.min()),
                  "predicted_uniform": float(predict(coef, np.array([list(uniform.values())]), "loglinear").mean()),
                  "loo": {k: loo(W, L, k) for k in ("loglinear", "linear")}}
    print("regression:", json.dumps({k: v for k, v in regression.items() if k != "coef"}), flush=True)
    checks = {}
    for seed in seeds:  # arms interleaved within a seed
        for scale, steps, d, tok, base in (
                ("proxy", args.proxy_steps, args.proxy_d_model, args.proxy_tokens, args.proxy_trainer),
                ("target", args.steps, args.d_model, args.tokens, args.trainer)):
            for arm, w in (("uniform", uniform), ("predicted", best)):
                ev = train_run(f"{scale}_{arm}_s{seed}", shards, w, seed, steps, d, args, tokens=tok, base=base)
                checks[f"{scale}/{arm}/{seed}"] = dict(zip(SOURCES, per_source(ev)))
        ref = args.work / "runs" / f"target_uniform_s{seed}"
        dyn = {"domain_weights": {"reference": str(ref), "eta": 1.0, "smoothing": 1e-4, "clip": False}}
        ev = train_run(f"target_dynamic_s{seed}", shards, uniform, seed, args.steps, args.d_model, args, dyn,
                       tokens=args.tokens, base=args.trainer)
        checks[f"target/dynamic/{seed}"] = dict(zip(SOURCES, per_source(ev)))
    from mixture_report import report

    report(args.work, args, seeds, proxies, regression, checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
