"""Measure every GPU row of BENCHMARKS.md in one go (about 8 minutes on an H200) and write
record-format JSON for each.

    PYTHONPATH=. python benchmarks/gpu/run_all.py --results $OUT     # then copy $OUT/gpu_*.json
                                                                       # to benchmarks/results/

Carry to the GPU machine (git-ignored, made on CPU here):
  bench-data/nanogpt/model.py        karpathy/nanoGPT model.py (see benchmarks/gpu/trainer.py)
  bench-data/minilm-fp16             python benchmarks/gpu/export_minilm_fp16.py
  bench-data/quickstart-shards       datamill run configs/quickstart.yaml, then copy
                                     ../runs/quickstart/token_shards here

Rows, each a subprocess with its own time limit (570 s in all), one after the other (the GPU to itself):
minhash permutations, embeddings, trainer vs nanoGPT (three interleaved pairs in one process),
the real training loop with `flex` and `sdpa_mask` (one after the other), the norm-test
overhead. A row that fails or runs out of time is reported and the others still run; the
exit status is 1 if any row is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.gpu import records
from benchmarks.record import RESULTS, ROOT, Record

BENCH = ROOT / "bench-data"


def run(cmd: list[str], limit_s: int, with_log: bool = False) -> str:
    """stdout of ``cmd`` (repo root, this interpreter), and its stderr after it when ``with_log``
    (the training loop logs there); raises on failure or timeout."""
    print(f"$ {' '.join(cmd)}  (limit {limit_s} s)", flush=True)
    done = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=limit_s)
    sys.stderr.write(done.stderr[-3000:])
    done.check_returncode()
    return done.stderr + "\n" + done.stdout if with_log else done.stdout


def record(name: str, command: str, **kw) -> Record:
    import torch

    rec = Record(name, command=f"PYTHONPATH=. python {command}", packages=["torch", "numpy", "transformers",
                 "sentence-transformers"], **kw)
    rec.data["machine"]["gpu"] = torch.cuda.get_device_name()
    return rec


def minhash(out: Path) -> None:
    rec = record("gpu_minhash", "benchmarks/gpu/minhash.py")
    records.minhash(rec, records.json_lines(run(["benchmarks/gpu/minhash.py"], 60))[-1])
    rec.write(out / "gpu_minhash.json")


def embeddings(out: Path) -> None:
    args = ["benchmarks/gpu/embeddings.py", str(BENCH / "minilm-fp16"), "--docs", "100000", "--st-docs", "10000",
            "--repeats", "3"]
    rec = record("gpu_embeddings", " ".join(args), note="each figure is the median of the script's 3 repeats")
    records.embeddings(rec, records.json_lines(run(args, 120))[-1])
    rec.write(out / "gpu_embeddings.json")


def trainer(out: Path) -> None:
    model = BENCH / "nanogpt" / "model.py"
    args = ["benchmarks/gpu/trainer_profile.py", "--variants", "base,nanogpt,base,nanogpt,base", "--profile", "none"]
    rec = record("gpu_trainer", " ".join(args), params={"nanogpt_model_py_sha256":
                                                        hashlib.sha256(model.read_bytes()).hexdigest()},
                 note="nanoGPT and datamill alternate in one process: three pairs")
    runs = records.json_lines(run(args, 210))
    records.trainer_pairs(rec, runs)
    rec.figure("tokens_per_s", [r["tokens_per_s"] for r in runs if r.get("run") == "nanogpt"], unit="tokens/s",
               impl="nanogpt", runs="every-run")
    rec.write(out / "gpu_trainer.json")


def train_loop(out: Path) -> None:
    shards = BENCH / "quickstart-shards"
    if not (shards / "manifest.json").exists():
        raise FileNotFoundError(f"{shards}: carry the quickstart token shards (see this script's docstring)")
    rec = record("gpu_train_loop", "-m datamill.train configs/train-124m.yaml --set steps=40 "
                 "--set model.doc_attention={flex,sdpa_mask}", note="one run per setting, one after the other; "
                 "repeats are the 5-step log intervals after the first")
    for attention in ("flex", "sdpa_mask"):
        log = run(["-m", "datamill.train", "configs/train-124m.yaml", "--set", "steps=40",
                   "--set", f"model.doc_attention={attention}", "--set", f'data.shards=["{shards}"]',
                   "--set", f"out_dir=/tmp/datamill-loop-{attention}"], 60, with_log=True)
        records.train_loop(rec, log, attention)
    rec.write(out / "gpu_train_loop.json")


def schedulers(out: Path) -> None:
    rec = record("gpu_schedulers", "benchmarks/gpu/schedulers.py", note="step times are the script's medians")
    records.schedulers(rec, records.json_lines(run(["benchmarks/gpu/schedulers.py"], 60))[-1])
    rec.write(out / "gpu_schedulers.json")


ROWS = {"minhash": minhash, "embeddings": embeddings, "trainer": trainer, "train_loop": train_loop,
        "schedulers": schedulers}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=RESULTS, help="folder for gpu_*.json")
    p.add_argument("--only", default=",".join(ROWS), help="comma-separated rows")
    args = p.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in args.only.split(","):
        started = time.perf_counter()
        try:
            ROWS[name](args.results)
            print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
        except Exception as e:  # noqa: BLE001 - one row failing must not lose the others
            failed.append(name)
            print(f"{name}: FAILED after {time.perf_counter() - started:.0f} s: {type(e).__name__}: {e}", flush=True)
    print("missing rows: " + (", ".join(failed) or "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
