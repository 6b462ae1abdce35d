"""``datamill run|stats|show|report|card|stages|worker|train|ablate|fit-classifier|export-hf``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback

from datamill.logs import setup_logging

# Subcommands owned by other parts of the package; each module has main(argv) -> int.
DELEGATED = {
    "train": ("datamill.train_command", "train a model on datamill shards (CONFIG)"),
    "ablate": ("datamill.ablate.cli", "compare data recipes by training a proxy model per arm and seed (CONFIG)"),
    "fit-classifier": ("datamill.filters.fit_classifier", "train a fastText classifier from labelled data"),
    "export-hf": ("datamill.train.hf_dataset", "export token shards as a Hugging Face dataset"),
    "worker": ("datamill.worker_preload", "start a Dask worker with datamill's settings (SCHEDULER [dask worker args])"),
}
VERBOSE = ("-v", "--verbose")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="datamill", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging of datamill's own modules "
                   "(every command; also accepted after the command's name)")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a pipeline config")
    run.add_argument("config")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. stages.near.threshold=0.85 (type-checked)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="worker processes of the embedded cluster (default: CPUs)")
    where.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. tcp://HOST:8786")
    run.add_argument("--output", help="run directory (overrides the config's 'output')")
    run.add_argument("--no-progress", action="store_true")

    stats = sub.add_parser("stats", help="per-stage statistics of a run")
    stats.add_argument("run_dir")
    stats.add_argument("--json", action="store_true", help="machine-readable output")

    show = sub.add_parser("show", help="example documents of a stage")
    show.add_argument("run_dir")
    show.add_argument("stage")
    show.add_argument("--removed", action="store_true", help="show removed documents with their reason")
    show.add_argument("--reason", help="only removed documents with this reason")
    show.add_argument("-n", type=int, default=5)
    show.add_argument("--chars", type=int, default=400, help="characters of text per document")
    show.add_argument("--cluster", help="every member of this near-duplicate cluster (minhash_dedup), keeper first")

    report = sub.add_parser("report", help="self-contained HTML report of a run or of an ablation (`datamill ablate`)")
    report.add_argument("run_dir")
    report.add_argument("-o", "--output", default="report.html")

    card = sub.add_parser("card", help="Hugging Face dataset card (README.md) for a stage of a run")
    card.add_argument("run_dir")
    card.add_argument("stage", nargs="?", help="default: the last finished stage that holds documents")
    card.add_argument("-o", "--output", help="where to write it (default: RUN_DIR/README.md)")

    stages = sub.add_parser("stages", help="list every stage, or describe one stage's parameters")
    stages.add_argument("name", nargs="?", help="a stage's `use:` name, e.g. minhash_dedup")

    for name, (_, help_) in DELEGATED.items():
        sub.add_parser(name, help=help_, add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # -v before or after the command's name, for every command (the delegated ones' parsers do
    # not know it); no option of any command takes "-v" as its value
    verbose = any(a in VERBOSE for a in argv)
    argv = [a for a in argv if a not in VERBOSE]
    setup_logging(verbose)
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]][0])
        return module.main(argv[1:])
    args = _parser().parse_args(argv)
    args.verbose = verbose
    from datamill.pipeline.errors import StageError
    from datamill.pipeline.source_config import DataError
    from datamill.typed_config import ConfigError

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        if args.command != "run":
            raise
        # finished partitions carry their key on disk (docs/RELIABILITY.md): a re-run reuses them
        print("datamill run: interrupted; finished partitions are kept: run the same command again "
              "to resume", file=sys.stderr)
        return 130
    except (ConfigError, DataError, StageError, OSError) as e:  # OSError: disk full, unwritable output
        if args.verbose:
            traceback.print_exc()
        print(f"datamill {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a failure no stage owns (e.g. the cluster): still one line, -v for the traceback
        if args.command != "run" or args.verbose:
            raise
        print(f"datamill run: error: {type(e).__name__}: {e} (-v shows the traceback)", file=sys.stderr)
        return 2


def _run(args) -> int:
    from datamill.pipeline.runner import run_pipeline

    overrides = list(args.overrides) + ([f"output={args.output}"] if args.output else [])
    result = run_pipeline(args.config, overrides=overrides, workers=args.workers, scheduler=args.scheduler,
                          progress=not args.no_progress)
    from datamill.inspection import print_stats_table

    print_stats_table(result.output)
    for name, stats in result.stats.items():  # rarely what anyone meant: say so under the table
        if stats.get("rows_in") and not stats.get("rows_out"):
            print(f"warning: stage {name!r} removed all {stats['rows_in']} rows it was given "
                  f"(see `datamill show {result.output} {name} --removed`)")
    print(f"run dir: {result.output} ({result.seconds:.1f} s)")
    return 0


def _stats(args) -> int:
    from datamill.inspection import load_run_stats, print_stats_table

    if args.json:
        print(json.dumps(load_run_stats(args.run_dir), indent=1))
    else:
        print_stats_table(args.run_dir)
    return 0


def _show(args) -> int:
    from datamill.inspection import show_cluster, show_documents

    if args.cluster:
        show_cluster(args.run_dir, args.stage, args.cluster, chars=args.chars)
        return 0
    show_documents(args.run_dir, args.stage, removed=args.removed or bool(args.reason), reason=args.reason,
                   n=args.n, chars=args.chars)
    return 0


def _report(args) -> int:
    from datamill.ablate.report import is_ablation
    from datamill.report import write_report

    if is_ablation(args.run_dir):  # a `datamill ablate` out_dir: its table and charts
        from datamill.ablate.report import write_report
    write_report(args.run_dir, args.output)
    print(f"wrote {args.output}")
    return 0


def _card(args) -> int:
    from datamill.card import CardError, write_card

    try:
        print(f"wrote {write_card(args.run_dir, args.stage, args.output)}")
    except CardError as e:
        print(f"datamill card: error: {e}", file=sys.stderr)
        return 2
    return 0


def _stages(args) -> int:
    from datamill.stage_docs import describe, summary

    try:
        print(describe(args.name) if args.name else summary())
    except KeyError as e:
        print(f"datamill stages: error: {e.args[0]}", file=sys.stderr)
        return 2
    return 0


COMMANDS = {"run": _run, "stats": _stats, "show": _show, "report": _report, "card": _card, "stages": _stages}

if __name__ == "__main__":
    sys.exit(main())
