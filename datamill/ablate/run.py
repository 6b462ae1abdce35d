"""``run_ablation``: build the arms, the eval sets, train every (arm, seed), write the findings.

Output, under ``out_dir``: ``data/`` (the merged pipeline's run dir), ``eval/`` (one ``.npy`` of
windows per eval set), ``runs/<arm>/seed<N>/`` (trainer output and ``result.json``),
``ablation.json``, ``ablation.md`` (the table) and ``figures/*.svg``."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from datamill.ablate.build import arm_pipeline, build_arms, check_one_tokenizer
from datamill.ablate.charts import curves_svg, final_bars_svg, standalone
from datamill.ablate.config import AblationConfig
from datamill.ablate.evalsets import build_eval_sets, held_out_docs, reference_docs, shard_stream, text_stream
from datamill.ablate.results import markdown_table, summarize
from datamill.ablate.runs import run_key, run_one, train_tokens, trainer_config
from datamill.shards import ShardSet
from datamill.typed_config import ConfigError

log = logging.getLogger(__name__)


def eval_streams(cfg: AblationConfig, dirs: dict[str, list[str]], tok_json: str, eos: int):
    """Every eval set's token stream and document count, and its kind (held_out / reference)."""
    base = cfg.arms[cfg.baseline]
    streams, kinds = {}, {}
    if base.pipeline:
        pipe, _ = arm_pipeline(cfg.baseline, base, "")
        names = [cfg.eval.from_stage] if cfg.eval.from_stage else list(pipe.sources)
        if cfg.eval.from_stage and cfg.eval.from_stage not in pipe.stages:
            raise ConfigError(f"eval.from_stage: no stage {cfg.eval.from_stage!r} in the baseline's pipeline "
                              f"(stages: {sorted(pipe.stages)})")
        for name in names:
            for src, texts in held_out_docs(f"{cfg.out_dir}/data/{name}", cfg.eval.held_out_fraction).items():
                streams[src], kinds[src] = (text_stream(texts, tok_json, eos), len(texts)), "held_out"
    else:
        for d in dirs[cfg.baseline]:
            for src, stream in shard_stream(d, cfg.eval.held_out_fraction).items():
                streams[src], kinds[src] = stream, "held_out"
    for name, ref in cfg.eval.references.items():
        if name in streams:
            raise ConfigError(f"eval.references: {name!r} is also a source's held-out set; rename it")
        texts = reference_docs(ref.path, ref.text_field)
        streams[name], kinds[name] = (text_stream(texts, tok_json, eos), len(texts)), "reference"
    return streams, kinds


def run_ablation(cfg: AblationConfig, *, workers: int | None = None, progress: bool = True) -> dict:
    for arm in cfg.arms:  # the trainer configs and the budget checked before any data is built
        trainer_config(cfg, arm, [f"{cfg.out_dir}/unbuilt"], cfg.seeds[0], 1)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dirs = build_arms(cfg, workers=workers, progress=progress)
    tok_sha = check_one_tokenizer(dirs)
    shards = ShardSet(dirs[cfg.baseline][0], verify="size")
    tok_json, eos = Path(shards.tokenizer_path).read_text(encoding="utf-8"), shards.eos_id
    probe = trainer_config(cfg, cfg.baseline, dirs[cfg.baseline], cfg.seeds[0], 1)
    seq_len, batch = probe.data.seq_len, probe.data.batch_size
    streams, kinds = eval_streams(cfg, dirs, tok_json, eos)
    eval_sets = build_eval_sets(str(out / "eval"), streams, tok_json, seq_len, cfg.eval.windows, kinds)
    windows = {s: np.load(out / "eval" / f"{s}.npy") for s in eval_sets}
    val_batches = -(-sum(len(w) for w in windows.values()) // batch)

    warnings, arms = [], {}
    for arm in cfg.arms:
        avail = train_tokens(dirs[arm], cfg.eval.held_out_fraction)
        total = sum(r["tokens"] for r in avail.values())
        epochs = cfg.tokens / max(total, 1)
        if epochs > 1:
            warnings.append(f"arm {arm!r} has {total:,} training tokens for a budget of {cfg.tokens:,}: "
                            f"it repeats its data {epochs:.2f} times")
            log.warning(warnings[-1])
        arms[arm] = {"shards": dirs[arm], "train_tokens": avail, "epochs": epochs, "runs": {}}
    trained = 0
    for seed in cfg.seeds:  # seeds outermost: an interrupted ablation already has paired runs
        for arm in cfg.arms:
            tcfg = trainer_config(cfg, arm, dirs[arm], seed, val_batches)
            if (tcfg.data.seq_len, tcfg.data.batch_size) != (seq_len, batch):
                raise ConfigError(f"arm {arm!r}: trainer_set changes data.seq_len or data.batch_size; every arm "
                                  "is evaluated on the same windows and must keep them")
            log.info("arm %s, seed %d: %d steps -> %s", arm, seed, tcfg.steps, tcfg.out_dir)
            record, now = run_one(tcfg, run_key(tcfg, eval_sets), windows, eos)
            trained += now
            arms[arm]["runs"][str(seed)] = record
    summarize(arms, cfg.baseline, eval_sets)
    result = {"name": cfg.name, "tokens": cfg.tokens, "seeds": cfg.seeds, "baseline": cfg.baseline,
              "tokenizer_sha256": tok_sha, "seq_len": seq_len, "held_out_fraction": cfg.eval.held_out_fraction,
              "eval_sets": eval_sets, "arms": arms, "warnings": warnings, "trained_now": trained}
    write_outputs(out, result)
    return result


def write_outputs(out: Path, result: dict) -> None:
    (out / "ablation.json").write_text(json.dumps(result, indent=1))
    (out / "ablation.md").write_text(f"# Ablation {result['name']}\n\n" + markdown_table(result))
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    for s in result["eval_sets"]:
        (figs / f"curves-{s}.svg").write_text(standalone(curves_svg(s, result["arms"])))
        (figs / f"final-{s}.svg").write_text(standalone(final_bars_svg(s, result["arms"])))
