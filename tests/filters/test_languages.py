"""Per-language rule sets on real multilingual web pages (mostly German, then English, Spanish,
French): stop words, thresholds, ``language: auto``, partitions, and one pipeline run on the
embedded and on a multi-process cluster."""

import gzip
import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from datamill.filters.fineweb_quality import FineWebQualityFilter
from datamill.filters.gopher_quality import GopherQualityFilter
from datamill.filters.language_filter import LanguageFilter
from datamill.pipeline.config import load_config
from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.stage import REMOVAL_REASON
from datamill.typed_config import ConfigError
from tests.filters.test_rule_sets_web import check_partition_invariance, run

MIN_SCORE = {"en": 0.65, "de": 0.8, "fr": 0.6}


def test_auto_needs_language_id_upstream():
    """`language: auto` reads the `language` column: without language_filter upstream the
    config fails when it loads, and the error names the column and who writes it."""
    for use in ("gopher_quality", "fineweb_quality"):
        stages = [{"use": use, "name": "rules", "language": "auto"}, {"use": "language_filter"}]
        with pytest.raises(ConfigError, match=r"'rules'.*'language': written by 'language_filter', not up"):
            load_config({"sources": {"d": {"format": "python_docs"}}, "stages": stages})
        load_config({"sources": {"d": {"format": "python_docs"}}, "stages": stages[::-1]})


@pytest.fixture(scope="module")
def pages(web_pages) -> pa.Table:
    """Every 3rd trafilatura page as (id, text, language, language_score)."""
    from datamill.pipeline.io.html import html_to_text

    rows = []
    with gzip.open(web_pages, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 3 == 0:
                page = json.loads(line)
                text = html_to_text(page["html"], url=page["url"])
                if text:
                    rows.append({"id": page["id"], "text": text})
    return LanguageFilter().annotate(pa.Table.from_pylist(rows))


def reasons(stage, table: pa.Table) -> list:
    return run(stage, table).column(REMOVAL_REASON).to_pylist()


@pytest.mark.slow  # HTML extraction of ~330 pages
def test_german_and_french_pages_pass_their_own_stop_word_rule(pages):
    langs = Counter(pages["language"].to_pylist())
    assert langs["de"] > 150 and langs["en"] > 30 and langs["fr"] >= 5, langs
    for lang in ("de", "fr"):
        mine = pages.filter(pc.equal(pages["language"], lang))
        english = reasons(GopherQualityFilter(), mine)
        own = reasons(GopherQualityFilter(language=lang), mine)
        # English stop words remove most of them; with their own, the pages English removed for
        # stop words alone (every other rule passed) are nearly all kept
        assert english.count("gopher_stop_words") > 0.7 * len(mine), (lang, Counter(english))
        stop_only = [i for i, r in enumerate(english) if r == "gopher_stop_words"]
        assert sum(own[i] is None for i in stop_only) >= 0.9 * len(stop_only), (lang, Counter(own))
        assert own.count("gopher_stop_words") < 0.05 * len(mine), (lang, Counter(own))


@pytest.mark.slow
def test_auto_leaves_english_rows_as_they_were(pages):
    """`language: auto` on English rows = the English defaults, column for column."""
    for stage in (GopherQualityFilter, FineWebQualityFilter):
        auto, default = run(stage(language="auto"), pages), run(stage(), pages)
        english = pc.equal(pages["language"], "en")
        assert auto.filter(english).equals(default.filter(english)), stage.use
        german = pc.equal(pages["language"], "de")
        assert not auto.filter(german).equals(default.filter(german)), stage.use


@pytest.mark.slow
@pytest.mark.parametrize("stage", [GopherQualityFilter(language="auto"), FineWebQualityFilter(language="auto"),
                                   GopherQualityFilter(language="de")], ids=lambda s: f"{s.use}-{s.language}")
def test_partition_invariance_per_language(stage, pages, monkeypatch):
    from datamill.filters import _text

    n = pages.num_rows
    whole = check_partition_invariance(stage, pages, [n // 3, 1, n // 3, n - 2 * (n // 3) - 1])
    monkeypatch.setattr(_text, "CHUNK_BYTES", 20_000)  # several byte-bounded chunks per partition
    assert run(stage, pages).equals(whole)


def _config(data, out, partition_rows):
    return {"name": "langs", "sources": {"web": {"format": "parquet", "path": str(data)}},
            "stages": {"language": {"use": "language_filter", "input": "web", "languages": list(MIN_SCORE),
                                    "min_score": MIN_SCORE},
                       "gopher": {"use": "gopher_quality", "input": "language", "language": "auto"},
                       "fineweb": {"use": "fineweb_quality", "input": "gopher", "language": "auto"}},
            "output": str(out), "execution": {"partition_rows": partition_rows}}


@pytest.mark.slow
def test_pipeline_embedded_and_multiprocess_agree(pages, client, tmp_path):
    from distributed import Client, LocalCluster

    data = tmp_path / "pages.parquet"
    pq.write_table(pages.select(["id", "text"]), data)
    run_pipeline(_config(data, tmp_path / "embedded", 10_000), client=client, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as procs:
        run_pipeline(_config(data, tmp_path / "procs", 23), client=procs, progress=False)
    for stage in ("language", "gopher", "fineweb"):
        a = read_stage(str(tmp_path / "embedded"), stage).sort_by("id")
        b = read_stage(str(tmp_path / "procs"), stage).sort_by("id")
        assert a.num_rows > 0 and a.equals(b), stage

    # the per-language min_score: kept rows clear their language's score, low-score ones do not
    kept = read_stage(str(tmp_path / "embedded"), "language")
    assert all(s >= MIN_SCORE[lang] for lang, s in zip(kept["language"].to_pylist(),
                                                        kept["language_score"].to_pylist()))
    low = read_rejected(str(tmp_path / "embedded"), "language")
    low = low.filter(pc.equal(low[REMOVAL_REASON], "language_low_score"))
    assert low.num_rows > 0 and all(s < MIN_SCORE[lang] for lang, s in zip(
        low["language"].to_pylist(), low["language_score"].to_pylist()))
    # German pages survive the Gopher rules under `auto` (English stop words would remove them)
    out = Counter(read_stage(str(tmp_path / "embedded"), "fineweb")["language"].to_pylist())
    assert out["de"] > 100 and out["en"] > 20, out
