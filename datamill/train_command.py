"""``datamill train CONFIG``: build the trainer's shards with the pipeline in ``data.build`` when
they are missing, then train. The one place the trainer meets the data pipeline; the trainer
itself (``python -m datamill.train``, the torchrun entry point) only reads the shard format."""

from __future__ import annotations

import logging
import os
import sys

from datamill.train.batches import missing_shards
from datamill.train.cli import load, missing_message, parse_args, run

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    prog = "datamill train"
    args = parse_args(argv, prog)
    cfg = load(args, prog)
    if cfg is None:
        return 2
    missing = missing_shards(cfg)
    torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1  # every rank would build at once
    if missing and (not cfg.data.build or torchrun):
        print(missing_message(prog, cfg, args.config, missing, offer_train=not torchrun), file=sys.stderr)
        return 2
    if missing:
        from datamill.pipeline.runner import run_pipeline

        log.info("building shards %s with the pipeline in %s", ", ".join(missing), cfg.data.build)
        run_pipeline(cfg.data.build)
        still = missing_shards(cfg)
        if still:
            print(f"{prog}: {cfg.data.build} ran but wrote no shards at {', '.join(still)}", file=sys.stderr)
            return 2
    return run(cfg, args)
