"""Field mistakes are errors, not empty output: dotted field paths, a field in no record of a
file, too many bad rows, keys that do not apply to a format, and the ``html`` directory format."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.pipeline.source_config import DataError, SourceConfig
from datamill.pipeline.sources import list_files, plan_source, read_chunk
from datamill.typed_config import ConfigError


def read(spec: dict, rows: int = 1000) -> tuple[pa.Table, dict]:
    """(kept table, bad counts) as a run's planning and read tasks produce them."""
    cfg = SourceConfig.from_dict("src", spec, Path("/"))
    files = list_files(cfg) if cfg.format != "hf" else []
    tables, counts = [], {}
    for chunk in plan_source(cfg, files, rows, 2**30, lambda fn, items: [fn(x) for x in items]):
        table, bad = read_chunk(cfg, chunk, 10)
        tables.append(table)
        for k, v in bad.counts.items():
            counts[k] = counts.get(k, 0) + v
    return pa.concat_tables(tables, promote_options="default"), counts


NESTED = [{"body": {"text": f"doc {i}"}, "metadata": {"url": f"https://ex.com/{i}", "lang": "en"}, "n": i}
          for i in range(3)]


def test_dotted_fields_read_nested_jsonl_parquet_and_hf_records(tmp_path):
    import datasets

    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in NESTED))
    pq.write_table(pa.Table.from_pylist(NESTED), tmp_path / "a.parquet")
    datasets.Dataset.from_list(NESTED).save_to_disk(str(tmp_path / "hf"))
    fields = {"text_field": "body.text", "url_field": "metadata.url"}
    for fmt, path in (("jsonl", "a.jsonl"), ("parquet", "a.parquet"), ("hf", "hf")):
        table, counts = read({"format": fmt, "path": str(tmp_path / path), **fields})
        assert counts == {}, fmt
        assert table.column("text").to_pylist() == ["doc 0", "doc 1", "doc 2"], fmt
        assert table.column("url").to_pylist() == [f"https://ex.com/{i}" for i in range(3)], fmt
        # the other fields are kept once: the url taken out of `metadata`, `body` gone with its text
        if fmt == "parquet":
            assert table.column("metadata").to_pylist() == [{"lang": "en"}] * 3 and "body" not in table.column_names
        else:
            assert [json.loads(m) for m in table.column("meta").to_pylist()] == \
                [{"metadata": {"lang": "en"}, "n": i} for i in range(3)], fmt


def test_html_field_in_a_parquet_struct_column_is_extracted(tmp_path):
    page = "<html><body><article>" + "<p>A paragraph of real enough prose about rivers.</p>" * 20 + \
        "</article></body></html>"
    pages = [{"url": "https://ex.com/a", "html": page}, {"url": "https://ex.com/b", "html": "<html></html>"}, None]
    pq.write_table(pa.table({"page": pages, "n": [1, 2, 3]}), tmp_path / "p.parquet")
    table, counts = read({"format": "parquet", "path": str(tmp_path / "p.parquet"), "html_field": "page.html",
                          "url_field": "page.url", "max_bad_fraction": 1.0})
    assert counts == {"empty_after_extraction": 1, "missing_text": 1}
    assert "rivers" in table.column("text")[0].as_py() and "<p>" not in table.column("text")[0].as_py()
    assert table.column("url").to_pylist() == ["https://ex.com/a"]
    assert "page" not in table.column_names and table.column("n").to_pylist() == [1]  # html and url taken out


def test_a_field_in_no_record_of_a_file_is_an_error_naming_the_field_and_the_file(tmp_path):
    import datasets

    rows = [{"body": "some text", "link": "https://ex.com"}] * 30
    (tmp_path / "good.jsonl").write_text(json.dumps({"text": "fine"}) + "\n")
    (tmp_path / "wrong.jsonl").write_text("not json\n" + "".join(json.dumps(r) + "\n" for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "wrong.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "hf"))
    for spec in ({"format": "jsonl", "path": str(tmp_path / "*.jsonl")},
                 {"format": "parquet", "path": str(tmp_path / "wrong.parquet")},
                 {"format": "hf", "path": str(tmp_path / "hf")}):
        with pytest.raises(DataError, match=r"source 'src': field 'text' is in no record of \S*(wrong|hf).*"
                                            r"\(fields seen: body, link\)"):
            read({**spec, "on_error": "skip"})  # whatever on_error says: 100% of rows would be dropped
    with pytest.raises(DataError, match=r"field 'html' is in no record of \S*wrong.jsonl"):
        read({"format": "jsonl", "path": str(tmp_path / "wrong.jsonl"), "html_field": "html"})
    # a renamed url field is a promise that urls exist; the default `url` may be absent
    with pytest.raises(DataError, match=r"field 'metadata.url' is in no record of \S*wrong.jsonl"):
        read({"format": "jsonl", "path": str(tmp_path / "wrong.jsonl"), "text_field": "body",
              "url_field": "metadata.url"})
    table, counts = read({"format": "jsonl", "path": str(tmp_path / "wrong.jsonl"), "text_field": "body"})
    assert table.num_rows == 30 and counts == {"malformed_json": 1}


def test_more_bad_rows_than_max_bad_fraction_stop_the_run_naming_source_count_and_reasons(tmp_path):
    lines = [json.dumps({"text": f"ok {i}"}) for i in range(10)] + ["{broken"] * 25 + [json.dumps({"text": 5})] * 5
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    spec = {"format": "jsonl", "path": str(tmp_path / "a.jsonl")}
    with pytest.raises(DataError, match=r"source 'src': 30 of 40 rows of \S*a.jsonl \(rows 1..40\) are bad "
                                        r"\(malformed_json: 25, wrong_type: 5\), more than max_bad_fraction=0.5"):
        read(spec)
    table, counts = read({**spec, "max_bad_fraction": 1.0})
    assert table.num_rows == 10 and counts == {"malformed_json": 25, "wrong_type": 5}
    with pytest.raises(DataError, match=r"20 of 20 rows of \S*a.jsonl \(rows 21..40\)"):
        read(spec, rows=20)  # checked per chunk: rows 1..20 are half bad (not more), rows 21..40 all bad
    (tmp_path / "a.jsonl").write_text("\n".join(lines[:1] + lines[-5:]) + "\n")  # 5 bad of 6: too few to judge
    assert read(spec)[1] == {"wrong_type": 5}


@pytest.mark.parametrize("fmt, key, value, hint", [
    ("text", "html_field", "html", "use format: html"),
    ("jsonl", "split", "test", "keys for jsonl"),
    ("parquet", "split", "test", "keys for parquet"),
    ("warc", "text_field", "body", "keys for warc"),
    ("text", "url_field", "u", "keys for text"),
    ("python_docs", "path", "x", "keys for python_docs"),
    ("parquet", "max_doc_bytes", 10, "keys for parquet"),
])
def test_keys_that_do_not_apply_to_the_format_are_config_errors(fmt, key, value, hint):
    spec = {"format": fmt, "path": "/x", key: value}
    with pytest.raises(ConfigError, match=rf"source 'src': key '{key}' does not apply to format '{fmt}'.*{hint}"):
        SourceConfig.from_dict("src", spec, Path("/"))


def test_html_and_text_fields_together_and_a_bad_fraction_are_config_errors():
    with pytest.raises(ConfigError, match="either 'html_field'.*or 'text_field'"):
        SourceConfig.from_dict("src", {"format": "jsonl", "path": "/x", "html_field": "h", "text_field": "t"},
                               Path("/"))
    with pytest.raises(ConfigError, match="max_bad_fraction"):
        SourceConfig.from_dict("src", {"format": "jsonl", "path": "/x", "max_bad_fraction": 1.5}, Path("/"))


PAGES = ("adac.de.kindersitze.html", "austria.info.radfahren.html", "blog.python.org.html", "bmjv.de.konsum.html")


def test_html_directory_one_document_per_page_with_stable_ids(shared_data, tmp_path):
    src = shared_data / "web-trafilatura"
    pages = tmp_path / "a" / "site" / "pages"
    pages.mkdir(parents=True)
    with tarfile.open(src / "trafilatura_tests_eval_cache_html.tar.xz") as tar:
        for member in tar:  # the first members are the ones wanted: no need to unpack 143 MB
            if Path(member.name).name in PAGES:
                (pages / Path(member.name).name).write_bytes(tar.extractfile(member).read())
            if len(list(pages.iterdir())) == len(PAGES):
                break
    (pages / "empty.html").write_text("<html><head><title>t</title></head><body></body></html>")
    keep = {e["file"]: e["with"] for e in json.loads((src / "evaldata.json").read_text()).values()}

    table, counts = read({"format": "html", "path": str(tmp_path / "a" / "site")}, rows=2)
    assert counts == {"empty_after_extraction": 1}
    files = [json.loads(m)["file"] for m in table.column("meta").to_pylist()]
    assert files == [f"site/pages/{p}" for p in PAGES]  # relative to the source path's parent, as for text
    for name, text in zip(PAGES, table.column("text").to_pylist()):
        assert "<div" not in text and all(snippet in text for snippet in keep[name]), name
    assert len(set(table.column("id").to_pylist())) == len(PAGES)
    shutil.move(tmp_path / "a", tmp_path / "b")  # ids hash that relative path: moving the corpus keeps them
    again, _ = read({"format": "html", "path": str(tmp_path / "b" / "site")}, rows=3)
    assert again.column("id").equals(table.column("id"))
    urls = table.column("url").to_pylist()  # a page's canonical link or og:url, else none
    assert all(u is None or u.startswith("http") for u in urls) and any(urls)
