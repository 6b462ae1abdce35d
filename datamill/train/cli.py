"""``python -m datamill.train CONFIG``: train per a trainer config, on shards that already exist (the
torchrun entry point; it needs torch, numpy, pyarrow, PyYAML, pydantic and safetensors only).
``datamill train`` (``datamill.train_command``) also builds missing shards first."""

from __future__ import annotations

import argparse
import json
import os
import sys

from datamill.logs import setup_logging
from datamill.train.batches import missing_shards
from datamill.train.config import TrainConfig, load_config
from datamill.typed_config import ConfigError


def parse_args(argv: list[str] | None, prog: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description="Train a small Llama-style model on datamill shards "
                                "(run under torchrun for DDP).")
    p.add_argument("config", help="trainer config (YAML); its relative paths are relative to its directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, parsed as YAML, e.g. --set steps=100 --set optim.lr=1e-3")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if out_dir has checkpoints")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step with a checkpoint (the schedule still spans `steps`)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args(argv)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def load(args: argparse.Namespace, prog: str) -> TrainConfig | None:
    """The config with ``--set`` and ``--no-resume`` applied; None (after one line on stderr) if invalid."""
    overrides = list(args.set) + (["resume=false"] if args.no_resume else [])
    try:
        return load_config(args.config, overrides)
    except ConfigError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return None


def missing_message(prog: str, cfg: TrainConfig, config_path: str, missing: list[str], *,
                    offer_train: bool = True) -> str:
    """One line: which shard dirs are missing and the command that builds them."""
    build = f"`datamill run {cfg.data.build}`" if cfg.data.build else "the pipeline that writes them (`datamill run`)"
    also = f", or run `datamill train {config_path}`, which builds them" if cfg.data.build and offer_train else ""
    return f"{prog}: no shards at {', '.join(missing)} (no manifest.json): build them first with {build}{also}"


def run(cfg: TrainConfig, args: argparse.Namespace) -> int:
    from datamill.train.loop import train

    result = train(cfg, stop_at=args.stop_at)
    if rank() == 0:
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    prog = "python -m datamill.train"
    args = parse_args(argv, prog)
    setup_logging(args.verbose)  # `datamill train` is set up by datamill.cli, like every command
    cfg = load(args, prog)
    if cfg is None:
        return 2
    missing = missing_shards(cfg)
    if missing:
        print(missing_message(prog, cfg, args.config, missing), file=sys.stderr)
        return 2
    return run(cfg, args)
