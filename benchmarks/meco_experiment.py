"""The MeCo experiment (benchmarks/EXPERIMENTS.md, "MeCo"): ``datamill ablate configs/ablate-meco.yaml``
(plain vs URL-conditioned pre-training at equal tokens), then its raw outputs into the repo:
benchmarks/results/meco_ablation.json (the ablation.json), benchmarks/results/meco.json (the
figures in benchmarks/record.py's format: one repeat per seed, machine and load) and the charts
under benchmarks/figures/.

    python benchmarks/meco_data.py
    nice -n 10 python benchmarks/meco_experiment.py   # resumable: finished runs are read back
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from record import RESULTS, Record, repo_relative  # benchmarks/ is on sys.path when run as a script

from datamill.ablate.config import load_config
from datamill.ablate.run import run_ablation
from datamill.logs import setup_logging

ROOT = Path(__file__).resolve().parents[1]

CONFIG = ROOT / "configs" / "ablate-meco.yaml"


def main() -> None:
    setup_logging(False)
    cfg = load_config(CONFIG)
    rec = Record("meco", command="python benchmarks/meco_experiment.py", packages=["torch", "tokenizers"],
                 params={"config": "configs/ablate-meco.yaml", "tokens": cfg.tokens, "seeds": cfg.seeds},
                 note="final validation loss (nats/token) per arm and eval set, one repeat per seed; "
                      "the full curves are in meco_ablation.json")
    result = run_ablation(cfg, workers=2, progress=False)
    for arm, a in result["arms"].items():
        seeds = list(a["runs"])
        for s in result["eval_sets"]:
            rec.figure("final_val_loss", [a["runs"][k]["final"][s] for k in seeds], unit="nats/token",
                       arm=arm, eval_set=s, seeds=seeds)
            if "paired" in a:
                rec.figure("paired_delta_vs_baseline", [a["runs"][k]["final"][s] - result["arms"][result["baseline"]]
                                                        ["runs"][k]["final"][s] for k in seeds],
                           unit="nats/token", arm=arm, eval_set=s, seeds=seeds)
        rec.figure("wall_seconds_per_run", [a["runs"][k]["wall_seconds"] for k in seeds], unit="s", arm=arm)
    rec.write()
    out = Path(cfg.out_dir)
    (RESULTS / "meco_ablation.json").write_text(json.dumps(repo_relative(result), indent=1) + "\n")
    (RESULTS / "meco_ablation.md").write_text((out / "ablation.md").read_text())
    figures = ROOT / "benchmarks" / "figures"
    for svg in (out / "figures").glob("*.svg"):
        shutil.copy(svg, figures / f"meco_{svg.name}")
    print((out / "ablation.md").read_text())


if __name__ == "__main__":
    main()
