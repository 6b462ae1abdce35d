"""Property-based bad input: every input row is either in the output or counted as skipped with
its file and line (``on_error: skip``), or the read stops with an error naming the file and
line (``on_error: fail``). Nothing is lost silently and no library exception escapes.

The properties run on the engine's own planning and reading functions (``plan_source`` and
``read_chunk``, what each read task runs) so hypothesis can try hundreds of inputs in seconds;
``test_bad_corpus_end_to_end_...`` drives damaged files through ``run_pipeline`` and the CLI.
"""

from __future__ import annotations

import gzip
import json
import re
import string
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamill.pipeline.formats import _warc_responses
from datamill.pipeline.source_config import DataError, SourceConfig
from datamill.pipeline.sources import list_files, plan_source, read_chunk
from tests.reliability.figures import record

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


class Quiet(dict):
    """Fixture data that hypothesis does not print in full."""

    def __repr__(self) -> str:
        return f"<{len(self)} files>"


def read_all(spec: dict, rows: int = 20_000, max_bytes: int = 64 * 2**20, samples: int = 10_000):
    """(kept table, skip counts, sampled skips) exactly as the read tasks of a run produce them."""
    cfg = SourceConfig.from_dict("src", spec, Path("/"))
    chunks = plan_source(cfg, list_files(cfg), rows, max_bytes, lambda fn, items: [fn(x) for x in items])
    tables, counts, skipped = [], {}, []
    for chunk in chunks:
        table, bad = read_chunk(cfg, chunk, samples)
        tables.append(table)
        for k, v in bad.counts.items():
            counts[k] = counts.get(k, 0) + v
        skipped += bad.rows
    return pa.concat_tables(tables, promote_options="default"), counts, skipped


# -- JSON lines: every kind of bad line, any mix, any partitioning, plain / gzip / zstd --------------------

text_values = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n"), max_size=40) | \
    st.just("nul \x00 inside") | st.just("")


@st.composite
def jsonl_line(draw) -> tuple[bytes, str | None, str | None]:
    """(line bytes without newline, expected reason or None if kept, expected text)."""
    kind = draw(st.sampled_from(["ok", "ok", "ok", "extra_fields", "truncated_json", "invalid_utf8", "raw_nul",
                                 "surrogate", "blank", "not_object", "missing_text", "wrong_type"]))
    text = draw(text_values)
    obj = {"text": text}
    if kind == "ok":
        return json.dumps(obj).encode(), None, text
    if kind == "extra_fields":
        obj.update(draw(st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=6).filter(
            lambda k: k not in ("text", "id", "url")), st.integers() | st.none() | text_values, max_size=3)))
        return json.dumps(obj, ensure_ascii=draw(st.booleans())).encode(), None, text
    if kind == "truncated_json":  # a strict prefix of an object is never valid JSON
        full = json.dumps(obj).encode()
        return full[:draw(st.integers(1, len(full) - 1))], "malformed_json", None
    if kind == "invalid_utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80"]))
        return b'{"text": "a' + bad + b'b"}', "invalid_utf8", None
    if kind == "raw_nul":  # a raw control character inside a JSON string
        return b'{"text": "a\x00b"}', "malformed_json", None
    if kind == "surrogate":  # json.loads accepts it; UTF-8 (Arrow) cannot hold it
        return b'{"text": "lone \\ud800 surrogate"}', "invalid_utf8", None
    if kind == "blank":
        return draw(st.sampled_from([b"", b"   ", b"\t", b"\r"])), "empty_line", None
    if kind == "not_object":
        return json.dumps(draw(st.sampled_from([[1, 2], "text", 3, None, True]))).encode(), "malformed_json", None
    if kind == "missing_text":
        return json.dumps({"body": text}).encode(), "missing_text", None
    value = draw(st.sampled_from([1, 2.5, True, ["a"], {"a": 1}]))
    return json.dumps({"text": value}).encode(), "wrong_type", None


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def compress(data: bytes, how: str) -> bytes:
    return {"": lambda d: d, ".gz": gzip.compress,
            ".zst": lambda d: zstandard.ZstdCompressor().compress(d)}[how](data)


@SETTINGS
@given(lines=st.lists(jsonl_line(), min_size=1, max_size=25), how=st.sampled_from(["", ".gz", ".zst"]),
       rows=st.integers(1, 8), trailing_newline=st.booleans())
def test_jsonl_every_line_is_kept_or_counted_with_file_and_line(tmp_path_factory, lines, how, rows, trailing_newline):
    path = tmp_path_factory.mktemp("fz") / f"in.jsonl{how}"
    trailing_newline = trailing_newline or lines[-1][0] == b""  # else a last empty line does not exist
    data = b"\n".join(raw for raw, _, _ in lines) + (b"\n" if trailing_newline else b"")
    path.write_bytes(compress(data, how))
    objects = [o for o in map(_json_or_none, (raw for raw, _, _ in lines)) if isinstance(o, dict)]
    if objects and not any("text" in o for o in objects):  # the config mistake: an error, not 100% skipped
        with pytest.raises(DataError, match=rf"source 'src': field 'text' is in no record of {re.escape(str(path))}"):
            read_all({"format": "jsonl", "path": str(path)}, rows=rows)
        record("inputs_tried", 1)
        return
    table, counts, skipped = read_all({"format": "jsonl", "path": str(path)}, rows=rows)
    record("bad_inputs_tried", sum(1 for _, reason, _ in lines if reason))
    record("inputs_tried", 1)

    assert table.column("text").to_pylist() == [t for _, reason, t in lines if reason is None]
    assert table.num_rows + sum(counts.values()) == len(lines)  # nothing lost, nothing made up
    expected = {i + 1: reason for i, (_, reason, _) in enumerate(lines) if reason}
    assert {r["line"]: r["_removal_reason"] for r in skipped} == expected
    assert all(r["file"] == str(path) for r in skipped)
    assert len(set(table.column("id").to_pylist())) == table.num_rows  # stable ids, no duplicates

    if expected:
        first = min(expected)
        with pytest.raises(DataError, match=rf"{path.name}:{first}: {expected[first]}"):
            read_all({"format": "jsonl", "path": str(path), "on_error": "fail"}, rows=rows)


# -- truncated compressed files: the complete lines before the cut, and the cut reported ----------------------

@SETTINGS
@given(n=st.integers(1, 300), how=st.sampled_from([".gz", ".zst"]), cut=st.floats(0.0, 1.0), rows=st.integers(7, 500))
def test_truncated_gzip_and_zstd_keep_a_prefix_and_report_the_cut(tmp_path_factory, n, how, cut, rows):
    texts = [f"document {i} " + "word " * (i % 37) for i in range(n)]
    blob = compress(b"".join(json.dumps({"text": t}).encode() + b"\n" for t in texts), how)
    keep = max(1, int(len(blob) * cut))  # (an empty file is an empty input, not a cut one)
    path = tmp_path_factory.mktemp("cut") / f"in.jsonl{how}"
    path.write_bytes(blob[:keep])
    table, counts, skipped = read_all({"format": "jsonl", "path": str(path)}, rows=rows)
    record("bad_inputs_tried", 1 if keep < len(blob) else 0)
    record("inputs_tried", 1)
    got = table.column("text").to_pylist()
    assert got == texts[:len(got)], "rows after a cut must never be made up or reordered"
    if keep < len(blob):
        assert counts == {"truncated_file": 1}, counts
        assert skipped[0]["file"] == str(path) and "truncated" in skipped[0]["detail"]
        with pytest.raises(DataError, match=rf"{path.name}:\d+: truncated_file"):
            read_all({"format": "jsonl", "path": str(path), "on_error": "fail"}, rows=rows)
    else:
        assert counts == {} and got == texts


# -- Parquet: truncated files, corrupt bodies, missing or mistyped text columns ------------------------------

@pytest.fixture(scope="module")
def parquet_bytes(tmp_path_factory) -> Quiet:
    path = tmp_path_factory.mktemp("pq") / "a.parquet"
    pq.write_table(pa.table({"text": [f"parquet doc {i} " * 8 for i in range(400)]}), path, row_group_size=50)
    return Quiet(data=path.read_bytes())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(cut=st.floats(0.0, 0.999))
def test_truncated_parquet_is_a_counted_skip_or_an_error_naming_the_file(tmp_path_factory, parquet_bytes, cut):
    path = tmp_path_factory.mktemp("pqcut") / "cut.parquet"
    data = parquet_bytes["data"]
    path.write_bytes(data[:int(len(data) * cut)])
    table, counts, skipped = read_all({"format": "parquet", "path": str(path)}, rows=64)
    record("bad_inputs_tried", 1)
    record("inputs_tried", 1)
    assert table.num_rows == 0 and counts == {"truncated_file": 1}
    assert skipped[0]["file"] == str(path) and "Parquet" in skipped[0]["detail"]
    with pytest.raises(DataError, match=r"cut\.parquet.*truncated_file"):
        read_all({"format": "parquet", "path": str(path), "on_error": "fail"})


def test_parquet_with_corrupt_pages_counts_every_row_of_the_damaged_chunk(tmp_path, parquet_bytes):
    data = bytearray(parquet_bytes["data"])
    meta = pq.ParquetFile(pa.BufferReader(parquet_bytes["data"])).metadata
    col = meta.row_group(3).column(0)
    start = col.dictionary_page_offset or col.data_page_offset
    data[start:start + 64] = b"\xff" * 64  # smash the page header of row group 3 (rows 150..199)
    (tmp_path / "bad.parquet").write_bytes(bytes(data))
    table, counts, skipped = read_all({"format": "parquet", "path": str(tmp_path / "bad.parquet")}, rows=50)
    record("bad_inputs_tried", 1)
    assert table.num_rows + sum(counts.values()) == 400
    assert counts == {"corrupt_file": 50} and skipped[0]["line"] == 151
    assert table.column("text").to_pylist() == [f"parquet doc {i} " * 8 for i in range(400) if not 150 <= i < 200]


def test_parquet_missing_or_mistyped_text_column_is_an_error_or_counts_every_row(tmp_path):
    pq.write_table(pa.table({"body": ["a"] * 30}), tmp_path / "missing.parquet")
    pq.write_table(pa.table({"text": [[1, 2]] * 20}), tmp_path / "listtype.parquet")
    pq.write_table(pa.table({"text": pa.array([b"\xff\xfe", b"ok"] * 5, pa.binary())}), tmp_path / "binary.parquet")
    pq.write_table(pa.table({"text": ["kept", None, "kept too"]}), tmp_path / "nulls.parquet")
    with pytest.raises(DataError, match=r"field 'text' is in no record of \S*missing\.parquet \(fields seen: body\)"):
        read_all({"format": "parquet", "path": str(tmp_path / "missing.parquet")})  # a config mistake, not 30 skips
    with pytest.raises(DataError, match=r"20 of 20 rows of \S*listtype\.parquet .*wrong_type: 20"):
        read_all({"format": "parquet", "path": str(tmp_path / "listtype.parquet")})  # over max_bad_fraction
    for name, n, reason in (("listtype", 20, "wrong_type"), ("binary", 10, "wrong_type"), ("nulls", 1, "missing_text")):
        table, counts, skipped = read_all({"format": "parquet", "path": str(tmp_path / f"{name}.parquet"),
                                           "max_bad_fraction": 1.0})
        record("bad_inputs_tried", n)
        assert counts == {reason: n}, name
        assert skipped[0]["file"].endswith(f"{name}.parquet")
    assert table.column("text").to_pylist() == ["kept", "kept too"]


# -- WARC: cut anywhere, plain and gzipped, on the real Common Crawl samples -------------------------------

@pytest.fixture(scope="module")
def warc_files(shared_data, tmp_path_factory) -> dict[str, tuple[bytes, list]]:
    out = Quiet()
    src = sorted((shared_data / "web-dolma-fixtures").glob("warc__sample-*.warc.gz"))[0]
    for suffix, data in ((".warc.gz", src.read_bytes()), (".warc", gzip.decompress(src.read_bytes()))):
        path = tmp_path_factory.mktemp("warc") / f"full{suffix}"
        path.write_bytes(data)
        out[suffix] = (data, [(r.rec_headers.get_header("WARC-Record-ID"), b) for r, b in _warc_responses(str(path))])
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(cut=st.floats(0.0, 0.9999), suffix=st.sampled_from([".warc.gz", ".warc"]))
def test_truncated_warc_keeps_whole_records_and_reports_the_cut(tmp_path_factory, warc_files, cut, suffix):
    from datamill.pipeline.formats import count_warc_records

    data, full = warc_files[suffix]
    path = tmp_path_factory.mktemp("warccut") / f"cut{suffix}"
    path.write_bytes(data[:max(1, int(len(data) * cut))])  # (an empty file is an empty input)
    n, error = count_warc_records(str(path))
    record("bad_inputs_tried", 1)
    record("inputs_tried", 1)
    assert error, f"a WARC cut at byte {int(len(data) * cut)} of {len(data)} was read as complete"
    got = [(r.rec_headers.get_header("WARC-Record-ID"), b) for r, b in _warc_responses_prefix(str(path), n)]
    assert got == full[:n], "a partial record was read as a document"


def _warc_responses_prefix(path: str, n: int) -> list:
    return list(islice(_warc_responses(path), n))  # stops before asking for record n + 1


# -- sizes: empty documents and one 50 MB document ------------------------------------------------------------

def test_empty_documents_are_kept_and_a_50_mb_document_is_kept_whole_or_skipped_by_size(tmp_path):
    big = ("fifty megabytes of words " * (50 * 2**20 // 25 + 1))[:50 * 2**20]
    lines = [json.dumps({"text": ""}), json.dumps({"text": "small"}), json.dumps({"text": big}), json.dumps({"text": "end"})]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    spec = {"format": "jsonl", "path": str(tmp_path / "big.jsonl")}
    table, counts, _ = read_all(spec, max_bytes=2**20)
    assert counts == {} and table.column("text").to_pylist()[:2] == ["", "small"]
    assert table.column("text")[2].as_py() == big and table.column("text")[3].as_py() == "end"
    table, counts, skipped = read_all({**spec, "max_doc_bytes": 16 * 2**20}, max_bytes=2**20)
    record("bad_inputs_tried", 1)
    assert counts == {"too_large": 1} and skipped[0]["line"] == 3 and len(skipped[0]["text"]) <= 2000
    assert table.column("text").to_pylist() == ["", "small", "end"]


# -- end to end: one run over every kind of damage, then the CLI under on_error: fail -----------------------

def bad_corpus(directory: Path, warc: bytes) -> dict:
    lines = [b'{"text": "good"}', b'{"text": broken', b'{"text": "bad \xff"}', b'', b'{"text": 5}',
             b'{"text": "lone \\ud800"}', b'{"text": "also good", "extra": [1, 2]}']
    (directory / "bad.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    body = b"".join(json.dumps({"text": f"line {i} " * 20}).encode() + b"\n" for i in range(500))
    (directory / "cut.jsonl.gz").write_bytes(gzip.compress(body)[:2000])
    z = zstandard.ZstdCompressor().compress(body)
    (directory / "cut.jsonl.zst").write_bytes(z[:len(z) // 2])
    pq.write_table(pa.table({"text": ["a parquet document"] * 100}), directory / "whole.parquet")
    (directory / "cut.parquet").write_bytes((directory / "whole.parquet").read_bytes()[:500])
    (directory / "cut.warc.gz").write_bytes(warc[:len(warc) // 2])
    return {"jsonl": {"format": "jsonl", "path": str(directory / "bad.jsonl")},
            "gz": {"format": "jsonl", "path": str(directory / "cut.jsonl.gz")},
            "zst": {"format": "jsonl", "path": str(directory / "cut.jsonl.zst")},
            "parquet": {"format": "parquet", "path": str(directory / "cut.parquet")},
            "warc": {"format": "warc", "path": str(directory / "cut.warc.gz")}}


def test_bad_corpus_end_to_end_counts_everything_and_fails_cleanly_on_request(client, proc_cluster, tmp_path,
                                                                                warc_files):
    import subprocess
    import sys

    import yaml

    from datamill.pipeline.io import read_rejected
    from datamill.pipeline.runner import run_pipeline
    from tests.proc_cluster import ROOT, worker_env

    sources = bad_corpus(tmp_path, warc_files[".warc.gz"][0])
    result = run_pipeline({"name": "bad", "sources": sources, "stages": {}, "output": str(tmp_path / "run")},
                          client=client, progress=False)
    stats = result.stats
    assert stats["jsonl"]["rows_out"] == 2 and stats["jsonl"]["rows_in"] == 7
    assert stats["jsonl"]["removed"] == {"empty_line": 1, "invalid_utf8": 2, "malformed_json": 1, "wrong_type": 1}
    for name in ("gz", "zst", "parquet", "warc"):
        assert stats[name]["removed"].get("truncated_file") == 1, (name, stats[name]["removed"])
        assert stats[name]["rows_in"] == stats[name]["rows_out"] + sum(stats[name]["removed"].values())
        rejected = read_rejected(str(tmp_path / "run"), name).to_pylist()
        assert any(r["file"] == sources[name]["path"] and r["_removal_reason"] == "truncated_file" for r in rejected)
    record("bad_inputs_tried", 10)
    record("inputs_tried", 5)

    for name, spec in sources.items():  # on_error: fail: the error names the file (and the line)
        fail = {"name": "bad", "sources": {name: {**spec, "on_error": "fail"}}, "stages": {},
                "output": str(tmp_path / f"fail-{name}")}
        if name in ("gz", "parquet", "zst"):
            with pytest.raises(DataError, match=rf"source '{name}': {re.escape(spec['path'])}:\d+: truncated_file"):
                run_pipeline(fail, client=client, progress=False)
            continue
        cfg = tmp_path / f"{name}.yaml"  # through the CLI: exit 2, one line, no traceback
        cfg.write_text(yaml.safe_dump(fail))
        done = subprocess.run([sys.executable, "-m", "datamill.cli", "run", str(cfg), "--no-progress",
                               "--scheduler", proc_cluster.address],
                              env=worker_env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert last.startswith(f"datamill run: error: source {name!r}: {spec['path']}:"), last
