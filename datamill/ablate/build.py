"""Every arm's shards from one pipeline run: the arms' DAGs merged into one, a source or stage that
two arms define identically (same config, same merged inputs) kept once, so the engine computes
shared stages once and caches them like any run (a re-run reuses everything).

One tokenizer for all arms: the baseline arm is built first and its ``tokenizer.json`` is given
to every other arm's ``token_shards`` (or the config's ``tokenizer`` to all of them)."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from datamill.ablate.config import AblationConfig, Arm
from datamill.pipeline.config import PipelineConfig, StageNode, load_config
from datamill.shards import ShardSet
from datamill.typed_config import ConfigError

log = logging.getLogger(__name__)


def shards_stage(cfg: PipelineConfig, where: str) -> str:
    """The name of the (last) ``token_shards`` stage: whose output is the arm's training data."""
    names = [n for n in cfg.order() if n in cfg.stages and cfg.stages[n].stage.use == "token_shards"]
    if not names:
        raise ConfigError(f"{where}: the pipeline has no token_shards stage (an arm trains on its shards)")
    return names[-1]


def arm_pipeline(name: str, arm: Arm, tokenizer: str) -> tuple[PipelineConfig, str]:
    """The arm's pipeline with its overrides and, when ``tokenizer`` is set, that tokenizer in its
    token_shards stage; and that stage's name."""
    where = f"arm {name!r} ({arm.pipeline})"
    try:
        cfg = load_config(arm.pipeline, arm.set)
        stage = shards_stage(cfg, where)
        if tokenizer:
            cfg = load_config(arm.pipeline, [*arm.set, f"stages.{stage}.tokenizer.path={json.dumps(tokenizer)}"])
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return cfg, stage


def merge(arms: dict[str, PipelineConfig], name: str, output: str) -> tuple[PipelineConfig, dict[str, dict]]:
    """One pipeline holding every arm's DAG, identical nodes shared; and per arm, its names -> merged names."""
    sources: dict = {}
    stages: dict[str, StageNode] = {}
    raw_sources, raw_stages = {}, {}
    renames: dict[str, dict] = {}
    for arm, cfg in arms.items():
        rename: dict[str, str] = {}
        for sname, src in cfg.sources.items():
            plain = dataclasses.replace(src, name="", label=src.source_label)  # the label stays the source column
            same = next((n for n, s in sources.items() if dataclasses.replace(s, name="") == plain), None)
            if same is None:
                same = sname if sname not in sources and sname not in stages else f"{sname}-{arm}"
                sources[same] = dataclasses.replace(plain, name=same)
                raw_sources[same] = cfg.raw.get("sources", {}).get(sname)
            rename[sname] = same
        for sname in cfg.order():
            node = cfg.stages.get(sname)
            if node is None:
                continue
            inputs = [rename[i] for i in node.inputs]
            same = next((n for n, s in stages.items() if s.stage == node.stage and s.inputs == inputs), None)
            if same is None:
                same = sname if sname not in stages and sname not in sources else f"{sname}-{arm}"
                stages[same] = StageNode(same, node.stage, inputs)
                spec = {k: v for k, v in cfg.raw["stages"][sname].items() if k not in ("input", "inputs", "name")}
                raw_stages[same] = {**spec, "inputs": inputs}
            rename[sname] = same
        renames[arm] = rename
    first = next(iter(arms.values()))
    raw = {"name": name, "output": output, "sources": raw_sources, "stages": raw_stages}
    merged = PipelineConfig(name=name, output=output, sources=sources, stages=stages,
                            execution=first.execution, raw=raw)
    merged.order()
    return merged, renames


def build_arms(cfg: AblationConfig, *, workers: int | None = None, progress: bool = True) -> dict[str, list[str]]:
    """Run the merged pipeline (cached) and return every arm's shard dirs."""
    from datamill.pipeline.clusters import dask_client
    from datamill.pipeline.config import check_files
    from datamill.pipeline.runner import run_pipeline

    out = f"{cfg.out_dir}/data"
    piped = {n: a for n, a in cfg.arms.items() if a.pipeline}
    dirs = {n: list(a.shards) for n, a in cfg.arms.items() if a.shards}
    if not piped:
        return dirs
    order = sorted(piped, key=lambda n: n != cfg.baseline)  # the baseline first: its names stay unchanged
    tokenizer = cfg.tokenizer
    if not tokenizer and cfg.baseline not in piped:  # a baseline mixing existing shards: their tokenizer
        tokenizer = ShardSet(dirs[cfg.baseline][0], verify="size").tokenizer_path
    with dask_client(None, workers) as client:
        if not tokenizer and cfg.baseline in piped:
            base, stage = arm_pipeline(cfg.baseline, piped[cfg.baseline], "")
            merged, _ = merge({cfg.baseline: base}, cfg.name, out)
            check_files(merged)
            run_pipeline(merged, client=client, progress=progress)
            tokenizer = f"{out}/{stage}/tokenizer.json"
            log.info("every arm tokenizes with the baseline's tokenizer %s", tokenizer)
        built = {n: arm_pipeline(n, piped[n], "" if n == cfg.baseline and not cfg.tokenizer else tokenizer)
                 for n in order}
        merged, renames = merge({n: c for n, (c, _) in built.items()}, cfg.name, out)
        check_files(merged)
        run_pipeline(merged, client=client, progress=progress)
    for n, (_, stage) in built.items():
        dirs[n] = [f"{out}/{renames[n][stage]}"]
    return {n: dirs[n] for n in cfg.arms}


def tokenizer_of(shard_dirs: list[str]) -> dict:
    """The manifest's tokenizer record ({"sha256", ...}) of the first shard dir."""
    manifest = json.loads((Path(shard_dirs[0]) / "manifest.json").read_text())
    return manifest["tokenizer"]


def check_one_tokenizer(dirs: dict[str, list[str]]) -> str:
    """The tokenizer sha256 every arm's shards share; a one-line error naming the arms otherwise."""
    shas = {arm: {tokenizer_of([d])["sha256"] for d in ds} for arm, ds in dirs.items()}
    every = set().union(*shas.values())
    if len(every) != 1:
        detail = ", ".join(f"{a}: {', '.join(sorted(s))[:12]}" for a, s in shas.items())
        raise ConfigError(f"the arms' shards use different tokenizers ({detail}): losses would not be "
                          "comparable; give existing shard sets the same tokenizer or set 'tokenizer'")
    return every.pop()
