"""Reading a run's statistics and example documents for the CLI (``stats`` and ``show``)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from datamill.fileio import SIDECARS, filesystem, is_url, sidecar
from datamill.pipeline import rundir
from datamill.pipeline.io import read_rejected, read_stage

SUMMARY_KEYS = ("name", "use", "inputs", "rows_in", "rows_out", "bytes_in", "bytes_out", "words_in",
                "words_out", "removed", "flagged", "seconds", "task_seconds", "cpu_seconds", "partitions",
                "histograms", "histograms_removed", "sources", "extra")


def load_run_stats(run_dir: str) -> dict:
    """Statistics of every finished stage, also of a failed or killed run: a stage is finished when
    its dir has ``.datamill/success.json``; ``missing`` lists the stages of the config (``run.json``) that are not."""
    run = rundir.read_json(f"{run_dir}/run.json") or {}
    finished = _finished_stages(run_dir)
    if not run and not finished:
        raise FileNotFoundError(f"{run_dir} is not a datamill run dir (no run.json, no finished stage)")
    order = run.get("order") or _event_order(run_dir, finished)
    stages = []
    for name in [n for n in order if n in finished] + sorted(set(finished) - set(order)):
        stats = rundir.read_json(rundir.stage_stats_path(f"{run_dir}/{name}"))
        if stats is not None:
            stages.append({k: stats[k] for k in SUMMARY_KEYS if k in stats})
    status = run.get("status", "done" if run else "unknown")  # run.json without status: an older, finished run
    return {"name": run.get("name", str(run_dir).rstrip("/").rsplit("/", 1)[-1]),
            "run_dir": str(run_dir).rstrip("/") if is_url(run_dir) else str(Path(run_dir)),
            "seconds": run.get("seconds"), "git_sha": run.get("git_sha"), "status": status, "error": run.get("error"), "stages": stages,
            "missing": [n for n in order if n not in finished]}


def _finished_stages(run_dir: str) -> set[str]:
    """Stage dirs holding ``.datamill/success.json``, locally or on an object store."""
    fs = filesystem(run_dir)
    if not fs.isdir(run_dir):
        return set()
    return {p.rstrip("/").split("/")[-3] for p in fs.glob(f"{str(run_dir).rstrip('/')}/*/{SIDECARS}/success.json")}


def _event_order(run_dir: str, finished: set[str]) -> list[str]:
    """Stage order from events.jsonl (no run.json: a run from before it was written at the start)."""
    import json

    path, order = f"{str(run_dir).rstrip('/')}/events.jsonl", []
    fs = filesystem(path)
    for line in fs.read_text(path).splitlines() if fs.exists(path) else []:
        stage = json.loads(line).get("stage")
        if stage and stage not in order:
            order.append(stage)
    return order + sorted(finished - set(order))


def partial_note(stats: dict) -> str | None:
    """One line for a run that did not finish: its status and the stages with no output."""
    if stats["status"] == "done" and not stats["missing"]:
        return None
    missing = ", ".join(stats["missing"]) or "none known"
    return f"run {stats['status']}: {len(stats['stages'])} stage(s) finished; not finished: {missing}" + \
        (f" ({stats['error']})" if stats.get("error") else "")


def extra_tables(stage: dict) -> list[tuple[str, list[str], list[list]]]:
    """A stage's ``extra`` statistics shaped as a table (``{row: {column: number or text}}``, e.g.
    decontaminate's per-reference counts): (title, header, rows) each; other shapes are left out."""
    out = []
    for key, value in (stage.get("extra") or {}).items():
        if not isinstance(value, dict) or not value or not all(
                isinstance(row, dict) and all(isinstance(v, (int, float, str)) for v in row.values())
                for row in value.values()):
            continue
        columns = list(dict.fromkeys(c for row in value.values() for c in row))
        out.append((f"{stage['name']}: {key}", [key, *columns],
                    [[name, *(row.get(c, "") for c in columns)] for name, row in value.items()]))
    return out


def print_stats_table(run_dir: str) -> None:
    from rich.console import Console
    from rich.table import Table

    stats = load_run_stats(run_dir)
    took = f"{stats['seconds']:.1f} s" if stats["seconds"] is not None else stats["status"]
    table = Table(title=f"datamill run {stats['name']} ({took})")
    for col in ("stage", "use", "rows in", "rows out", "kept", "words out", "removed by reason", "seconds"):
        table.add_column(col, justify="right" if col not in ("stage", "use", "removed by reason") else "left")
    for s in stats["stages"]:
        kept = f"{s['rows_out'] / s['rows_in']:.1%}" if s["rows_in"] else "-"
        reasons = ", ".join(f"{k}={v}" for k, v in s["removed"].items())
        if s.get("flagged"):
            reasons += (", " if reasons else "") + "flagged: " + ", ".join(f"{k}={v}" for k, v in s["flagged"].items())
        table.add_row(s["name"], s["use"], f"{s['rows_in']:,}", f"{s['rows_out']:,}", kept,
                      f"{s['words_out']:,}", reasons or "-", f"{s['seconds']:.1f}")
    console = Console(width=160)
    console.print(table)
    for s in stats["stages"]:
        for title, header, rows in extra_tables(s):
            extra = Table(title=title)
            for i, col in enumerate(header):
                extra.add_column(col, justify="left" if i == 0 else "right")
            for row in rows:
                extra.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
            console.print(extra)
    note = partial_note(stats)
    if note:
        print(note)


def show_documents(run_dir: str, stage: str, *, removed: bool = False, reason: str | None = None,
                   n: int = 5, chars: int = 400) -> None:
    done = sidecar(f"{str(run_dir).rstrip('/')}/{stage}", "success.json")
    if not filesystem(done).exists(done):
        note = partial_note(load_run_stats(run_dir))
        print(f"stage {stage!r} has not finished in {run_dir}" + (f"; {note}" if note else ""))
        return
    table = read_rejected(run_dir, stage) if removed else read_stage(run_dir, stage)
    if removed and reason and table.num_rows:
        table = table.filter(pc.equal(table.column("_removal_reason"), reason))
    if not table.num_rows:
        what = f"removed rows{f' with reason {reason!r}' if reason else ''}" if removed else "rows"
        print(f"stage {stage!r}: no {what}")
        return
    kept = _kept_lookup(run_dir, stage, table) if removed else {}
    for row in table.slice(0, n).to_pylist():
        print(_format(row, chars))
        for col in DUP_OF_COLUMNS:
            twin = kept.get(row.get(col))
            if twin is not None:
                print(_format({**twin, "_removal_reason": None}, chars).replace("── ", f"   kept ({col}): ", 1))


DUP_OF_COLUMNS = ("exact_duplicate_of", "semdedup_dup_of", "d4_dup_of", "minhash_cluster")


def _kept_lookup(run_dir: str, stage: str, rejected) -> dict:
    """Rows that removed near-duplicates point at (the kept document of their cluster)."""
    wanted = {v for c in DUP_OF_COLUMNS if c in rejected.column_names for v in rejected.column(c).to_pylist()}
    if not wanted:
        return {}
    out = read_stage(run_dir, stage)
    mask = pc.is_in(out.column("id"), value_set=pa.array(sorted(str(w) for w in wanted if w is not None)))
    return {r["id"]: r for r in out.filter(mask).to_pylist()}


def _format(row: dict, chars: int) -> str:
    head = f"── {row.get('id')}"
    if row.get("_removal_reason"):
        head += f"  [removed: {row['_removal_reason']}]"
    lines = [head]
    extras = {k: v for k, v in row.items() if k not in ("id", "text", "_removal_reason", "meta")
              and v is not None and not isinstance(v, (list, dict, bytes))}
    if extras:
        lines.append("   " + "  ".join(f"{k}={_short(v)}" for k, v in extras.items()))
    text = (row.get("text") or "").replace("\n", " ⏎ ")
    lines.append("   " + (text[:chars] + ("…" if len(text) > chars else "")))
    return "\n".join(lines)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    return s if len(s) <= 80 else s[:77] + "..."


def show_cluster(run_dir: str, stage: str, cluster_id: str, chars: int = 400) -> None:
    from datamill.stages.minhash.clusters import cluster_members

    members = cluster_members(run_dir, stage, cluster_id)
    if not members.num_rows:
        print(f"stage {stage!r}: no cluster {cluster_id!r} of two or more documents")
        return
    for row in members.to_pylist():
        print(_format({**row, "_removal_reason": "minhash_duplicate" if row.get("is_duplicate") else None}, chars))
