"""``datamill ablate CONFIG``: run an ablation (docs/ABLATIONS.md); ``datamill ablate --keys`` lists
every config key with what it means, like ``datamill stages NAME`` does for a stage."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from datamill.ablate.config import AblationConfig, Arm, Eval, Reference, load_config
from datamill.stage_docs import field_comments
from datamill.typed_config import ConfigError

SECTIONS = [("", AblationConfig), ("arms.NAME.", Arm), ("eval.", Eval), ("eval.references.NAME.", Reference)]


def describe_keys() -> str:
    """Every key of the ablation config, its default and its comment."""
    lines = ["ablation config keys (paths are relative to the config file):"]
    for prefix, cls in SECTIONS:
        comments = field_comments(cls)
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(f.type) or f.name in ("arms", "eval", "references"):
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            lines.append(f"  {prefix}{f.name} = {default!r}  # {comments.get(f.name, '')}".rstrip(" #"))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="datamill ablate", description="Train a proxy model per (arm, seed) on "
                                "equal tokens and compare the arms' validation loss on the same held-out windows.",
                                epilog="`datamill ablate --keys` lists the config keys; `datamill report OUT_DIR` "
                                "renders the result.")
    p.add_argument("config", nargs="?", help="ablation config (YAML)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (YAML), e.g. --set tokens=65536 --set 'seeds=[0]'")
    p.add_argument("--workers", type=int, help="worker processes of the pipeline's embedded cluster")
    p.add_argument("--keys", action="store_true", help="list every config key and exit")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keys:
        print(describe_keys())
        return 0
    if not args.config:
        print("datamill ablate: error: CONFIG is required (or --keys)", file=sys.stderr)
        return 2
    from datamill.ablate.run import run_ablation
    from datamill.pipeline.errors import StageError
    from datamill.pipeline.source_config import DataError
    from datamill.shards import ShardError

    try:
        cfg = load_config(args.config, args.set)
        result = run_ablation(cfg, workers=args.workers, progress=not args.no_progress)
    except (ConfigError, DataError, StageError, ShardError, OSError) as e:
        print(f"datamill ablate: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("datamill ablate: interrupted; built stages and finished runs are kept (an unfinished run resumes "
              "from its last checkpoint): run the same command again", file=sys.stderr)
        return 130
    print((f"{cfg.out_dir}/ablation.md: ") + f"{result['trained_now']} run(s) trained now, "
          f"{sum(len(a['runs']) for a in result['arms'].values()) - result['trained_now']} read back")
    print(open(f"{cfg.out_dir}/ablation.md", encoding="utf-8").read())
    return 0
