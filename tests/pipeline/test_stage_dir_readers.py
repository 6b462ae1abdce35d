"""Every stage directory loads with the standard Parquet readers (docs/RELIABILITY.md)."""

import json

import pytest

from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from tests.pipeline.stage_readers import READERS, load_ids


def _docs(n: int) -> list[dict]:
    # every third document is long enough to pass the filter: with 2 rows per partition, some
    # partitions keep nothing
    return [{"id": f"d{i:02d}", "text": ("word " * (30 if i % 6 == 0 else 3)).strip()} for i in range(n)]


@pytest.fixture(scope="module")
def run_dir(client, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("readers")
    (tmp / "a.jsonl").write_text("\n".join(json.dumps(d) for d in _docs(12)) + "\n")
    cfg = {"name": "readers", "sources": {"a": {"format": "jsonl", "path": str(tmp / "a.jsonl")}},
           "stages": [{"use": "length_filter", "min_words": 20},
                      {"use": "length_filter", "name": "none_left", "min_words": 10_000}],
           "output": str(tmp / "run"), "execution": {"partition_rows": 2}}
    run_pipeline(cfg, client=client, progress=False)
    return tmp / "run"


@pytest.mark.parametrize("reader", READERS)
def test_stage_with_empty_partitions_loads_with_every_reader(run_dir, reader, tmp_path):
    stage = run_dir / "length_filter"
    stats = json.loads((stage / ".datamill" / "stats.json").read_text())
    assert stats["partitions"] == 6 and stats["rows_out"] == 2  # 4 of 6 partitions are empty
    ids, columns = load_ids(reader, stage, tmp_path)
    assert ids == ["d00", "d06"]
    assert {"id", "text", "source"} <= set(columns) and "key" not in columns


@pytest.mark.parametrize("reader", [r for r in READERS if r != "datasets"])
def test_stage_with_no_rows_loads_with_its_schema(run_dir, reader, tmp_path):
    ids, columns = load_ids(reader, run_dir / "none_left", tmp_path)
    assert ids == [] and {"id", "text", "source", "num_words"} <= set(columns)
    assert read_stage(str(run_dir), "none_left").num_rows == 0


def test_datasets_refuses_any_empty_dataset_not_our_files(run_dir, tmp_path):
    """`datasets` raises for a dataset of zero rows whatever the files hold; ours get that far."""
    with pytest.raises(ValueError, match="corresponds to no data"):
        load_ids("datasets", run_dir / "none_left", tmp_path)


def test_partition_markers_are_not_beside_the_data(run_dir):
    stage = run_dir / "length_filter"
    assert sorted(p.name for p in stage.iterdir()) == [".datamill"] + [f"part-{i:05d}.parquet" for i in range(6)]
    assert len(list((stage / ".datamill" / "stats").glob("part-*.json"))) == 6
