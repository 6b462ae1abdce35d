"""``datamill train CONFIG`` / ``python -m datamill.train CONFIG``: train per a YAML config."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="datamill train", description="Train a small Llama-style model on "
                                "datamill shards (run under torchrun for DDP).")
    p.add_argument("config", help="trainer config (YAML, or JSON)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set steps=100 --set optim.lr=1e-3")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if out_dir has checkpoints")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step with a checkpoint (the schedule still spans `steps`)")
    args = p.parse_args(argv)

    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("datamill").setLevel(logging.INFO if rank == 0 else logging.WARNING)
    from datamill.train.config import TrainConfigError, load_config

    overrides = list(args.set) + (["resume=false"] if args.no_resume else [])
    try:
        cfg = load_config(args.config, overrides)
    except (TrainConfigError, OSError, ValueError) as e:
        print(f"datamill train: {args.config}: {e}", file=sys.stderr)
        return 2
    from datamill.train.loop import train

    result = train(cfg, stop_at=args.stop_at)
    if rank == 0:
        print(json.dumps(result))
    return 0
