"""MinHash dedup of a 1M-document corpus end to end on 2 cores, repeated, recorded as raw JSON.

    .venv/bin/python benchmarks/make_debian_corpus.py --docs 1000000 --out bench-data/debian-1m
    .venv/bin/python benchmarks/minhash_1m.py --corpus bench-data/debian-1m --repeats 3

Each repeat is a fresh ``benchmarks/minhash_dedup_e2e.py`` process (``run_pipeline`` with an
embedded 2-worker cluster: read -> source partitions -> signatures -> LSH -> components ->
filtered write, preset fineweb). Writes ``benchmarks/results/minhash_1m.json`` after every repeat:
wall and CPU seconds (driver + workers), peak summed RSS, recall on the planted pairs, the stage
split, and the load average at each run's end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from minhash_recall import last_json  # noqa: E402  (this script's folder)
from record import Record  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="bench-data/debian-1m")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    rec = Record("minhash_1m", command="python benchmarks/minhash_1m.py " + " ".join(argv or sys.argv[1:]),
                 params={"corpus": args.corpus, "workers": args.workers, "preset": "fineweb"},
                 packages=["numpy", "pyarrow", "dask", "distributed", "numba"],
                 note="one fresh process per repeat; wall/CPU seconds of driver + workers, peak summed RSS")
    runs = []
    for rep in range(args.repeats):
        res = last_json([sys.executable, "benchmarks/minhash_dedup_e2e.py", "--corpus", args.corpus,
                         "--workers", str(args.workers), "--out", "bench-data/runs/minhash-1m"])
        res.pop("stage_stats", None)
        print(json.dumps({**res, "repeat": rep}), flush=True)
        runs.append(res)
        rec.data["figures"] = []
        for key, unit in (("wall_s", "s"), ("cpu_s", "s"), ("peak_rss_gb", "GB"), ("recall", "share"),
                          ("removed_not_planted", "docs"), ("load_avg_1m", "load")):
            rec.figure(key, [r[key] for r in runs], unit=unit)
        for stage in runs[0]["stage_wall_s"]:
            rec.figure("stage_wall_s", [r["stage_wall_s"][stage] for r in runs], unit="s", stage=stage)
        rec.write()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
