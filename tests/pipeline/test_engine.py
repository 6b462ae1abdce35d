import json

import pyarrow as pa
import pytest

from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline

CHAIN = [{"use": "clean_text"}, {"use": "length_filter", "min_words": 20}, {"use": "exact_dedup"}]


def docs_config(out, partition_rows=10_000, stages=CHAIN):
    return {"name": "t", "sources": {"docs": {"format": "python_docs"}}, "stages": stages,
            "output": str(out), "execution": {"partition_rows": partition_rows}}


def events(out) -> list[dict]:
    return [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]


def test_run_removes_real_duplicates_and_records_stats(client, tmp_path):
    result = run_pipeline(docs_config(tmp_path / "run"), client=client, progress=False)
    stats = result.stats
    assert stats["docs"]["rows_out"] > 800
    assert stats["exact_dedup"]["removed"]["exact_duplicate"] >= 10  # collections.abc re-exports etc.
    assert stats["length_filter"]["rows_in"] == stats["clean_text"]["rows_out"]
    final = read_stage(str(tmp_path / "run"), "exact_dedup")
    assert final.num_rows == stats["exact_dedup"]["rows_out"]
    assert len(set(final.column("id").to_pylist())) == final.num_rows
    assert len(set(final.column("text").to_pylist())) == final.num_rows
    # kept + removed = input, per filter
    lf = stats["length_filter"]
    assert lf["rows_out"] + sum(lf["removed"].values()) == lf["rows_in"]
    rejected = read_rejected(str(tmp_path / "run"), "exact_dedup")
    assert set(rejected.column("_removal_reason").to_pylist()) == {"exact_duplicate"}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["order"] == ["docs", "clean_text", "length_filter", "exact_dedup"] and run["versions"]["dask"]


def test_output_does_not_depend_on_partitioning(client, tmp_path):
    one = run_pipeline(docs_config(tmp_path / "one", 100_000), client=client, progress=False)
    many = run_pipeline(docs_config(tmp_path / "many", 37), client=client, progress=False)
    assert one.stats["exact_dedup"]["partitions"] == 1 and many.stats["exact_dedup"]["partitions"] > 20
    assert read_stage(one.output, "exact_dedup").equals(read_stage(many.output, "exact_dedup"))


def test_rerun_skips_everything_and_changes_nothing(client, tmp_path):
    out = tmp_path / "run"
    run_pipeline(docs_config(out, 100), client=client, progress=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("part-*.parquet")}
    run_pipeline(docs_config(out, 100), client=client, progress=False)
    after = {p: p.stat().st_mtime_ns for p in out.rglob("part-*.parquet")}
    assert before == after
    last_run = events(out)[-5:]
    assert [e["event"] for e in last_run] == ["stage_cached"] * 4 + ["run_done"]


def test_changing_one_stage_reruns_it_and_its_descendants_only(client, tmp_path):
    out = tmp_path / "run"
    run_pipeline(docs_config(out, 100), client=client, progress=False)
    changed = [{"use": "clean_text"}, {"use": "length_filter", "min_words": 50}, {"use": "exact_dedup"}]
    run_pipeline(docs_config(out, 100, changed), client=client, progress=False)
    last = [e for e in events(out)[-5:] if "stage" in e]
    assert {e["stage"]: e["event"] for e in last} == {
        "docs": "stage_cached", "clean_text": "stage_cached", "length_filter": "stage_done",
        "exact_dedup": "stage_done"}
    assert min(pa.compute.utf8_split_whitespace(read_stage(str(out), "exact_dedup").column("text"))
               .combine_chunks().value_lengths().to_pylist()) >= 50


def test_final_parquet_loads_with_hf_datasets(client, tmp_path):
    import datasets

    out = tmp_path / "run"
    run_pipeline(docs_config(out), client=client, progress=False)
    ds = datasets.load_dataset("parquet", data_files=str(out / "exact_dedup" / "part-*.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(ds) == read_stage(str(out), "exact_dedup").num_rows and "text" in ds.column_names
