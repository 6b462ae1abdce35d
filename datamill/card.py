"""``datamill card RUN [STAGE]``: a Hugging Face dataset card for one stage of a run.

The card is a ``README.md`` whose YAML front matter the Hub reads (``configs:`` points at the
stage's ``part-*.parquet`` files by a path relative to the card, so the run dir can be uploaded
as it is and ``datasets.load_dataset(RUN)`` loads the stage) and whose body records the run:
per-stage rows and removals, sizes, token counts of any ``token_shards`` stage, and the resolved
config with versions and git sha (``run.json``). The license is a placeholder the user must set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import yaml

from datamill.fileio import read_json
from datamill.inspection import load_run_stats, partial_note

# The Hub's size_categories buckets (upper bound exclusive, label); larger is "n>1T".
SIZE_BUCKETS = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (10**9, "100M<n<1B"),
                (10**10, "1B<n<10B"), (10**11, "10B<n<100B"), (10**12, "100B<n<1T")]
MIN_LANGUAGE_SHARE = 0.01  # a detected language is listed when it is at least 1% of the rows
PARTS = "part-*.parquet"  # a stage's data files; its .datamill/ sidecars stay out of the glob


class CardError(ValueError):
    """A run or stage the card cannot describe (not finished, not documents)."""


def size_category(rows: int) -> str:
    return next((label for bound, label in SIZE_BUCKETS if rows < bound), "n>1T")


def write_card(run_dir: str, stage: str | None = None, output: str | None = None) -> Path:
    """Write the card (default ``RUN/README.md``; a directory gets ``README.md`` inside) and return its path."""
    out = Path(output) if output else Path(run_dir) / "README.md"
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        out = out / "README.md"
    text = card_text(run_dir, stage, card_dir=out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def card_text(run_dir: str, stage: str | None = None, card_dir: str | Path | None = None) -> str:
    stats = load_run_stats(run_dir)
    run = read_json(f"{run_dir}/run.json") or {}
    by_name = {s["name"]: s for s in stats["stages"]}
    name = stage or _default_stage(run_dir, stats)
    if name not in by_name:
        known = ", ".join(s["name"] for s in stats["stages"]) or "none"
        why = "has not finished" if name in stats["missing"] else "is not a stage of this run"
        raise CardError(f"stage {name!r} {why} (finished: {known})")
    if by_name[name]["use"] == "token_shards":
        raise CardError(f"stage {name!r} holds token shards, not documents: `datamill export-hf "
                        f"{Path(run_dir) / name}` exports them")
    stage_dir = Path(run_dir) / name
    if not list(stage_dir.glob(PARTS)):
        raise CardError(f"stage {name!r} has no {PARTS} files in {stage_dir}")
    rel = Path(os.path.relpath(stage_dir.resolve(), Path(card_dir or run_dir).resolve())).as_posix()
    if rel.startswith(".."):  # the Hub resolves data_files inside the repo the card is the root of
        raise CardError(f"the card must be written in {stage_dir} or a folder above it (its data_files "
                        f"are relative to it), not in {card_dir}")
    data_files = PARTS if rel == "." else f"{rel}/{PARTS}"
    s = by_name[name]
    languages = _languages(stage_dir, s["rows_out"])
    pretty = f"{stats['name']}: {name}"
    meta = {"pretty_name": pretty, "license": "other", "task_categories": ["text-generation"],
            "size_categories": [size_category(s["rows_out"])],
            **({"language": languages} if languages else {}), "tags": ["datamill"],
            "configs": [{"config_name": name, "data_files": [{"split": "train", "path": data_files}],
                         "default": True}]}
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).replace(
        "license: other\n", "# license: other is a placeholder: set your data's license before you publish\n"
                            "license: other\n")
    body = [f"# {pretty}", "",
            f"Documents of stage `{name}` of the datamill run `{stats['name']}` ({stats['status']}): "
            f"{s['rows_out']:,} rows, {s['words_out']:,} words, {_bytes(s['bytes_out'])} of text, in "
            f"`{data_files}` (split `train`).", "",
            "**License: not set.** `license: other` above is a placeholder written by `datamill card`; "
            "replace it with the license your sources allow before you publish this dataset.", "",
            *_loading(run_dir, name, data_files, card_dir), *_schema(stage_dir), *_pipeline(stats),
            *_tokens(run_dir, run, stats), *_config(run)]
    return "---\n" + front + "---\n\n" + "\n".join(body).rstrip() + "\n"


def _default_stage(run_dir: str, stats: dict) -> str:
    """The last finished stage that holds documents (Parquet parts with a ``text`` column)."""
    for s in reversed(stats["stages"]):
        parts = sorted((Path(run_dir) / s["name"]).glob(PARTS))
        if s["use"] != "token_shards" and parts and "text" in pq.read_schema(parts[0]).names:
            return s["name"]
    raise CardError(f"{run_dir}: no finished stage holds documents")


def _languages(stage_dir: Path, rows: int) -> list[str]:
    """Languages of the rows, from a ``language`` column (``language_filter``) when there is one."""
    parts = sorted(stage_dir.glob(PARTS))
    if not rows or "language" not in pq.read_schema(parts[0]).names:
        return []
    counts = pads.dataset([str(p) for p in parts], format="parquet").to_table(columns=["language"]) \
        .column("language").value_counts().to_pylist()
    counts = sorted(((c["counts"], c["values"]) for c in counts if c["values"]), reverse=True)
    return [lang for n, lang in counts if n >= MIN_LANGUAGE_SHARE * rows]


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""


def _loading(run_dir: str, name: str, data_files: str, card_dir) -> list[str]:
    where = Path(card_dir or run_dir)
    return ["## Loading", "", "```python", "from datasets import load_dataset",
            f'ds = load_dataset("{where}", split="train")  # this directory; or the Hub repo id once uploaded',
            "```", "", "Upload the card and this stage's files only (the run dir holds every stage):", "",
            "```bash", f'huggingface-cli upload USER/REPO {where} --repo-type dataset --include README.md "{data_files}"',
            "```", ""]


def _schema(stage_dir: Path) -> list[str]:
    schema = pq.read_schema(sorted(stage_dir.glob(PARTS))[0])
    return ["## Columns", "", "| column | type |", "| --- | --- |",
            *(f"| `{f.name}` | {f.type} |" for f in schema), ""]


def _pipeline(stats: dict) -> list[str]:
    out = ["## Pipeline", "", "Stages in the order they ran; rows a stage removed, by reason "
           "(flagged rows were kept and marked).", "",
           "| stage | use | inputs | rows in | rows out | words out | removed | flagged |",
           "| --- | --- | --- | ---: | ---: | ---: | --- | --- |"]
    for s in stats["stages"]:
        removed = ", ".join(f"{k}: {v:,}" for k, v in (s.get("removed") or {}).items()) or "-"
        flagged = ", ".join(f"{k}: {v:,}" for k, v in (s.get("flagged") or {}).items()) or "-"
        out.append(f"| `{s['name']}` | {s['use']} | {', '.join(s.get('inputs') or []) or '-'} | "
                   f"{s['rows_in']:,} | {s['rows_out']:,} | {s['words_out']:,} | {removed} | {flagged} |")
    note = partial_note(stats)
    if note:
        out += ["", f"**This run did not finish.** {note}. The stages not finished have no output and "
                "are not in the table."]
    return out + [""]


def _tokens(run_dir: str, run: dict, stats: dict) -> list[str]:
    out = []
    for s in (s for s in stats["stages"] if s["use"] == "token_shards"):
        manifest = read_json(f"{run_dir}/{s['name']}/manifest.json")
        if not manifest:
            continue
        tok, totals = manifest.get("tokenizer", {}), manifest.get("totals", {})
        inputs = ", ".join(f"`{i}`" for i in (run.get("inputs") or {}).get(s["name"], [])) or "its input"
        out += [f"## Tokens (`{s['name']}`)", "",
                f"{totals.get('tokens', 0):,} tokens in {totals.get('docs', 0):,} documents of {inputs} "
                f"({totals.get('prefix_tokens', 0):,} of them metadata-prefix tokens), tokenizer "
                f"{tok.get('model', '?')} with {tok.get('vocab_size', 0):,} tokens, stored as {manifest.get('dtype')}. "
                f"`datamill export-hf {Path(run_dir) / s['name']} -o OUT` exports them as a `datasets` dataset.", "",
                "| source | documents | tokens | share |", "| --- | ---: | ---: | ---: |"]
        for src, v in sorted((manifest.get("sources") or {}).items()):
            out.append(f"| {src} | {v.get('docs', 0):,} | {v.get('tokens', 0):,} | {v.get('share', 0):.1%} |")
        out.append("")
    return out


def _config(run: dict) -> list[str]:
    if not run.get("config"):
        return ["## Configuration", "", "No `run.json` in the run dir: the config is not known.", ""]
    versions = ", ".join(f"{k} {v}" for k, v in sorted((run.get("versions") or {}).items()))
    return ["## Configuration", "", f"git sha `{run.get('git_sha') or 'unknown'}`; {versions or 'versions unknown'}. "
            f"Stage order: {' → '.join(run.get('order') or [])}. The resolved config (`run.json`):", "",
            "```yaml", yaml.safe_dump(run["config"], sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
