"""Pipeline config: YAML -> validated sources, stages and DAG, before any work runs.

Every error names the source or stage and the key, and says what was expected.
"""

from __future__ import annotations

import copy
import graphlib
from dataclasses import dataclass, field, fields as dataclass_fields
from pathlib import Path
from typing import Any, Literal

import yaml

from datamill.fileio import filesystem, is_url
from datamill.pipeline.source_config import DOC_SCHEMA, SourceConfig
from datamill.typed_config import ConfigError, apply_override, build as _build, parse_override, path_fields
from datamill.stage import Stage, artifact_refs
from datamill.catalog import STAGES

TOP_LEVEL_KEYS = {"name", "sources", "stages", "output", "execution"}
EDGE_KEYS = {"use", "input", "inputs", "name"}


@dataclass(frozen=True)
class Cluster:
    """``execution.cluster``: ``kind: local`` is the embedded cluster on this machine; a batch kind
    submits ``jobs`` jobs through dask-jobqueue (``datamill.pipeline.clusters``), each running
    ``processes`` workers of ``cores / processes`` threads."""

    kind: Literal["local", "slurm", "pbs", "sge", "lsf"] = "local"  # local: the embedded LocalCluster
    jobs: int = 1  # batch jobs to submit (the cluster's size: jobs x processes workers)
    cores: int = 1  # cores per job, shared by its worker processes
    processes: int = 1  # worker processes per job; threads per worker = cores / processes
    memory: str = "4GB"  # memory per job ("16GB"), split between its processes
    queue: str = ""  # partition / queue; "": the batch system's default
    account: str = ""  # account or project to charge; "": none
    walltime: str = "01:00:00"  # per job: the run must finish (or be resumed) within it
    interface: str = ""  # network interface the workers reach the scheduler on, e.g. ib0; "": default
    job_extra_directives: tuple[str, ...] = ()  # extra directives, without "#SBATCH" (or #PBS, ...): "--gres=gpu:1"

    def __post_init__(self):
        if self.kind == "local":
            changed = [f.name for f in dataclass_fields(self)
                       if f.name != "kind" and getattr(self, f.name) != f.default]
            if changed:
                raise ValueError(f"key(s) {changed} apply to batch clusters (slurm, pbs, sge, lsf), "
                                 "not kind: local (its size is `datamill run --workers`)")
            return
        if min(self.jobs, self.cores, self.processes) < 1:
            raise ValueError("jobs, cores and processes must be >= 1")
        if self.cores % self.processes:
            raise ValueError(f"cores ({self.cores}) must be a multiple of processes ({self.processes})")


@dataclass(frozen=True)
class Execution:
    partition_rows: int = 20_000  # rows per partition: bounds task memory whatever the corpus size
    partition_bytes: int = 64 * 2**20  # and bytes of raw input per partition
    rejected_samples: int = 20  # removed rows kept per reason per partition, for `datamill show`
    cluster: Cluster = Cluster()  # where tasks run without --scheduler: local (embedded) or batch jobs


@dataclass
class StageNode:
    name: str
    stage: Stage
    inputs: list[str]
    artifacts: dict[str, str] = field(default_factory=dict)  # field -> upstream stage whose artifact it reads

    def after(self) -> list[str]:
        """Every stage or source that must finish first: its inputs and its artifacts' producers."""
        return self.inputs + [up for up in self.artifacts.values() if up not in self.inputs]


@dataclass
class PipelineConfig:
    name: str
    output: str
    sources: dict[str, SourceConfig]
    stages: dict[str, StageNode]
    execution: Execution
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def order(self) -> list[str]:
        """Sources and stages in a topological order (sources first, then config order)."""
        return list(self.sources) + [n for n in self._sorter() if n in self.stages]

    def _sorter(self) -> list[str]:
        graph = {name: node.after() for name, node in self.stages.items()}
        ts = graphlib.TopologicalSorter(graph)
        try:
            static = list(ts.static_order())
        except graphlib.CycleError as e:
            raise ConfigError(f"stages form a cycle: {' -> '.join(e.args[1])}") from None
        rank = {n: i for i, n in enumerate(self.stages)}
        # stable: config order among stages whose inputs are ready
        done, out = set(self.sources), []
        pending = [n for n in static if n in self.stages]
        while pending:
            ready = sorted((n for n in pending if all(i in done for i in self.stages[n].after())),
                           key=rank.__getitem__)
            out.append(ready[0])
            done.add(ready[0])
            pending.remove(ready[0])
        return out

    def consumers(self, name: str) -> list[str]:
        return [n for n, node in self.stages.items() if name in node.inputs]


def load_config(source: str | Path | dict, overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    """Parse and validate a config (path or dict). ``overrides`` are ``stages.X.key=value``
    strings whose values are parsed as YAML and type-checked like the file's own values."""
    if isinstance(source, dict):
        raw, base = copy.deepcopy(source), Path.cwd()
    else:
        path = Path(source)
        try:
            raw = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {e}") from None
        base = path.resolve().parent
    if not isinstance(raw, dict):
        raise ConfigError("a pipeline config is a mapping with keys: " + ", ".join(sorted(TOP_LEVEL_KEYS)))
    raw["stages"] = _stages_as_mapping(raw.get("stages") or {})
    for item in overrides:
        _apply_override(raw, item)
    unknown = set(raw) - TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL_KEYS)}")
    sources = {name: SourceConfig.from_dict(name, spec, base)
               for name, spec in (raw.get("sources") or {}).items()}
    if not sources:
        raise ConfigError("config has no sources")
    stages = {name: _build_stage(name, spec, sources, base) for name, spec in raw["stages"].items()}
    for name in stages:
        if name in sources:
            raise ConfigError(f"stage {name!r} has the same name as a source")
    known = set(sources) | set(stages)
    for node in stages.values():
        for inp in node.inputs:
            if inp not in known:
                raise ConfigError(f"stage {node.name!r}: input {inp!r} is neither a source nor a stage "
                                  f"(known: {sorted(known)})")
        _check_artifacts(node, stages)
    output = raw.get("output") or f"runs/{raw.get('name', 'pipeline')}"
    output = str(output if "://" in str(output) or Path(output).is_absolute() else (base / output).resolve()) \
        if not isinstance(source, dict) else str(output)
    cfg = PipelineConfig(name=str(raw.get("name", "pipeline")), output=output, sources=sources,
                         stages=stages, execution=_build(Execution, raw.get("execution") or {}, "execution"),
                         raw=raw)
    cfg.order()  # raises on cycles
    _check_columns(cfg)
    return cfg


def _check_artifacts(node: StageNode, stages: dict[str, StageNode]) -> None:
    """Every ``{stage: NAME}`` value names a stage of this config that produces an artifact."""
    for key, up in node.artifacts.items():
        if up not in stages:
            raise ConfigError(f"stage {node.name!r}: key {key!r}: {{stage: {up}}} names no stage "
                              f"(stages: {sorted(stages)})")
        if not stages[up].stage.artifact:
            producers = sorted(n for n, o in stages.items() if o.stage.artifact)
            raise ConfigError(f"stage {node.name!r}: key {key!r}: stage {up!r} (use: {stages[up].stage.use}) "
                              f"produces no artifact (stages that do: {producers or 'none'})")


def _check_columns(cfg: PipelineConfig) -> None:
    """Every column a stage needs is a document column or written upstream: a typo'd or
    misplaced stage fails here, not after hours of upstream work. Below a parquet or hf source
    (which carries its files' own columns) nothing is known, so nothing is checked."""
    known: dict[str, frozenset[str] | None] = {
        name: None if src.format in ("parquet", "hf") else frozenset(DOC_SCHEMA.names)
        for name, src in cfg.sources.items()}
    for name in cfg.order():
        node = cfg.stages.get(name)
        if node is None:
            continue
        inputs = [known[i] for i in node.inputs]
        # several inputs are a union: a column must come from every one of them
        have = None if None in inputs else frozenset.intersection(*inputs)
        if have is not None:
            for col in node.stage.needed_columns():
                if col not in have:
                    writers = [n for n, o in cfg.stages.items() if col in o.stage.writes]
                    where = (f"written by {', '.join(map(repr, writers))}, not upstream of it" if writers
                             else "no source or stage writes it")
                    raise ConfigError(f"stage {name!r} (use: {node.stage.use}) needs column {col!r}: "
                                      f"{where} (its input has: {', '.join(sorted(have))})")
        known[name] = None if have is None else have | set(node.stage.writes)


def check_files(cfg: PipelineConfig) -> None:
    """Every file a stage reads exists (also on an object store): checked before a run starts, not when the stage's
    first task fails after its upstream stages ran. (Not in ``load_config``: a config may name a
    model an earlier step of a recipe has yet to write.)"""
    for name, node in cfg.stages.items():
        for key, path, must_exist in path_fields(node.stage):
            if must_exist and not (filesystem(path).exists(path) if is_url(path) else Path(path).exists()):
                raise ConfigError(f"stage {name!r}: key {key!r}: no such file or directory: {path}")


def _stages_as_mapping(stages: Any) -> dict[str, dict]:
    """A plain list is a chain: each item's input defaults to the previous item."""
    if isinstance(stages, dict):
        return {str(k): dict(v or {}) for k, v in stages.items()}
    if not isinstance(stages, list):
        raise ConfigError("'stages' must be a mapping of name -> stage or a list of stages")
    out: dict[str, dict] = {}
    previous = None
    for i, item in enumerate(stages):
        if not isinstance(item, dict) or "use" not in item:
            raise ConfigError(f"stages[{i}]: each list item needs a 'use:' key")
        item = dict(item)
        name = str(item.pop("name", item["use"]))
        if name in out:
            raise ConfigError(f"stages[{i}]: name {name!r} used twice; give one a 'name:'")
        if "input" not in item and "inputs" not in item and previous is not None:
            item["input"] = previous
        out[name] = item
        previous = name
    return out


def _build_stage(name: str, spec: dict, sources: dict, base: Path) -> StageNode:
    registry = STAGES
    use = spec.get("use")
    if use not in registry:
        raise ConfigError(f"stage {name!r}: unknown 'use: {use}'; known stages: {sorted(registry)}")
    if "input" in spec and "inputs" in spec:
        raise ConfigError(f"stage {name!r}: give 'input' or 'inputs', not both")
    if "inputs" in spec:
        inputs = spec["inputs"]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise ConfigError(f"stage {name!r}: 'inputs' must be a list of stage or source names")
    elif "input" in spec:
        inputs = [spec["input"]]
    elif len(sources) == 1:
        inputs = list(sources)
    else:
        raise ConfigError(f"stage {name!r}: missing 'input' (several sources exist: {sorted(sources)})")
    fields = {k: v for k, v in spec.items() if k not in EDGE_KEYS}
    # relative paths (models, word lists, tokenizers) are relative to the config file, on the
    # driver: not to the CLI's or each worker's working directory
    stage = _build(registry[use], fields, f"stage {name!r} (use: {use})", base)
    inputs = [str(i) for i in inputs]
    try:
        stage.check_inputs(inputs)
    except ValueError as e:
        raise ConfigError(f"stage {name!r} (use: {use}): {e}") from None
    return StageNode(name=name, stage=stage, inputs=inputs, artifacts=artifact_refs(stage))


def _apply_override(raw: dict, item: str) -> None:
    parts, _ = parse_override(item)
    if parts[0] == "stages" and len(parts) > 2 and parts[1] not in raw.get("stages", {}):
        raise ConfigError(f"--set {item.partition('=')[0]}: no stage {parts[1]!r} "
                          f"(stages: {sorted(raw.get('stages', {}))})")
    apply_override(raw, item)
