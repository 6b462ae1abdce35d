import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.pipeline.source_config import DataError


def run_source(client, tmp_path, source: dict, stages=None):
    config = {"name": "r", "sources": {"src": source}, "stages": stages or {}, "output": str(tmp_path / "run")}
    result = run_pipeline(config, client=client, progress=False)
    return result.stats["src"], read_stage(result.output, "src")


def test_jsonl_gz_from_common_crawl_keeps_ids_urls_and_meta(client, tmp_path, shared_data):
    path = str(shared_data / "web-dolma-fixtures" / "multiple_files__cc_en_head-*.jsonl.gz")
    stats, table = run_source(client, tmp_path, {"format": "jsonl", "path": path, "url_field": "id"})
    assert table.num_rows == 20 and stats["removed"] == {}
    assert all(u.startswith("http") for u in table.column("url").to_pylist())
    meta = json.loads(table.column("meta")[0].as_py())
    assert "metadata" in meta and "created" in meta
    assert min(len(t) for t in table.column("text").to_pylist()) > 100


def test_warc_responses_become_main_text_with_urls(client, tmp_path, shared_data):
    path = str(shared_data / "web-dolma-fixtures" / "warc__sample-*.warc.gz")
    stats, table = run_source(client, tmp_path, {"format": "warc", "path": path})
    assert stats["rows_in"] == 37  # 22 + 15 HTTP responses
    assert table.num_rows + sum(stats["removed"].values()) == 37
    assert table.num_rows >= 20
    assert all(u.startswith("http") for u in table.column("url").to_pylist())
    assert all("<html" not in t.lower() for t in table.column("text").to_pylist())


def test_html_field_extracts_real_pages(client, tmp_path, web_pages):
    # extraction of all 990 pages is slow; read a slice of them
    sliced = tmp_path / "pages.jsonl"
    with gzip.open(web_pages, "rt") as f, open(sliced, "w") as out:
        for _, line in zip(range(40), f):
            out.write(line)
    stats, table = run_source(client, tmp_path, {"format": "jsonl", "path": str(sliced), "html_field": "html"})
    assert table.num_rows + stats["removed"].get("empty_after_extraction", 0) == 40
    assert table.num_rows >= 30
    assert not any("<div" in t for t in table.column("text").to_pylist())
    assert table.column("id").to_pylist() == table.column("url").to_pylist()


def test_text_files_one_document_each_with_stable_ids(client, tmp_path, shared_data):
    path = str(shared_data / "neardup-clough" / "g0p*_task*.txt")
    stats, table = run_source(client, tmp_path, {"format": "text", "path": path})
    assert table.num_rows == 25 and stats["removed"] == {}
    _, again = run_source(client, tmp_path / "again", {"format": "text", "path": path})
    assert table.column("id").equals(again.column("id"))
    assert len(set(table.column("id").to_pylist())) == 25


def test_parquet_keeps_extra_columns_and_hf_save_to_disk(client, tmp_path):
    import datasets

    rows = {"doc": [f"document number {i}" for i in range(50)], "score": [i / 50 for i in range(50)]}
    pq.write_table(pa.table(rows), tmp_path / "in.parquet", row_group_size=7)
    stats, table = run_source(client, tmp_path / "a", {"format": "parquet", "path": str(tmp_path / "in.parquet"),
                                                        "text_field": "doc"})
    assert table.column("text").to_pylist() == rows["doc"] and table.column("score").to_pylist() == rows["score"]
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "hf"))
    _, hf = run_source(client, tmp_path / "b", {"format": "hf", "path": str(tmp_path / "hf"), "text_field": "doc"})
    assert hf.column("text").to_pylist() == rows["doc"]


def write_bad_jsonl(path):
    lines = [b'{"text": "good one"}', b'{"text": broken', b'{"text": "bad \xff utf8"}', b'{"title": "no text"}',
             b'{"text": 42}', b'["not", "an", "object"]', b'', b'{"text": "good two", "id": "x2"}']
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_bad_records_are_counted_and_sampled_with_file_and_line(client, tmp_path):
    write_bad_jsonl(tmp_path / "bad.jsonl")
    stats, table = run_source(client, tmp_path, {"format": "jsonl", "path": str(tmp_path / "bad.jsonl")})
    assert table.column("text").to_pylist() == ["good one", "good two"]
    assert stats["removed"] == {"malformed_json": 2, "invalid_utf8": 1, "missing_text": 1, "wrong_type": 1,
                                "empty_line": 1}
    assert stats["rows_in"] == table.num_rows + sum(stats["removed"].values())
    rejected = read_rejected(str(tmp_path / "run"), "src").to_pylist()
    where = {r["line"]: r["_removal_reason"] for r in rejected}
    assert where == {2: "malformed_json", 3: "invalid_utf8", 4: "missing_text", 5: "wrong_type",
                     6: "malformed_json", 7: "empty_line"}
    assert all(r["file"].endswith("bad.jsonl") for r in rejected)


def test_on_error_fail_names_file_and_line(client, tmp_path):
    write_bad_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed_json"):
        run_source(client, tmp_path, {"format": "jsonl", "path": str(tmp_path / "bad.jsonl"), "on_error": "fail"})


def test_truncated_gzip_keeps_complete_lines_and_counts_the_damage(client, tmp_path):
    data = gzip.compress(b"".join(json.dumps({"text": f"line {i} " * 50}).encode() + b"\n" for i in range(2000)))
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    stats, table = run_source(client, tmp_path, {"format": "jsonl", "path": str(tmp_path / "cut.jsonl.gz")})
    assert 0 < table.num_rows < 2000 and stats["removed"] == {"truncated_file": 1}
    assert table.column("text").to_pylist()[:2] == ["line 0 " * 50, "line 1 " * 50]
