"""Time configs/quality-edu.yaml end to end (FineWeb-Edu's recipe: grade a sample with SmolLM2,
train fastText on the grades, score and keep) on the embedded cluster, from an empty run dir.

    .venv/bin/python benchmarks/filters_web_pages.py      # once: runs/web-pages/pages.jsonl.gz
    .venv/bin/python benchmarks/quality_edu_run.py [--workers 2] [--repeats 1]

Writes benchmarks/results/quality_edu_run.json: wall seconds per repeat, each stage's seconds,
and what the run graded, trained and kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import ROOT, Record  # benchmarks/ is on sys.path when run as a script

CONFIG = ROOT / "configs" / "quality-edu.yaml"


def run_once(workers: int) -> tuple[float, dict, dict]:
    out = Path(tempfile.mkdtemp(prefix="quality-edu-"))
    try:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(CONFIG), "--workers", str(workers),
                        "--output", str(out), "--no-progress"], check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        run = json.loads((out / "run.json").read_text())
        stats = {name: json.loads((out / name / ".datamill" / "stats.json").read_text()) for name in run["order"]}
        return wall, run["stage_seconds"], stats
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    rec = Record("quality_edu_run", command=f"python benchmarks/quality_edu_run.py --workers {args.workers} "
                 f"--repeats {args.repeats}", params={"config": "configs/quality-edu.yaml", "workers": args.workers},
                 packages=["torch", "transformers", "fasttext-numpy2", "dask"],
                 note="SmolLM2-135M grades are sampled noise (docs/METHODS.md, 'LLM annotation'); "
                      "this times the mechanics")
    walls, per_stage, last = [], {}, {}
    for _ in range(args.repeats):
        wall, seconds, last = run_once(args.workers)
        walls.append(wall)
        for name, s in seconds.items():
            per_stage.setdefault(name, []).append(s)
    rec.figure("end_to_end", walls, unit="s", corpus="web-trafilatura")
    for name, values in per_stage.items():
        rec.figure("stage_seconds", values, unit="s", stage=name, corpus="web-trafilatura")
    llm = last["grade"]["extra"]["llm"]
    report = last["train"]["extra"]["classifier"]
    rec.data["run"] = {"pages": last["web"]["rows_out"], "english": last["language"]["rows_out"],
                       "graded": llm["annotated"], "sampled": llm["documents"],
                       "unparseable": llm["unparseable_replies"], "completion_tokens": llm["completion_tokens"],
                       "positives": report["positives"], "negatives": report["negatives"],
                       "kept": last["edu"]["rows_out"], "scored": last["edu"]["rows_in"]}
    rec.write()
    print(json.dumps(rec.data["run"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
