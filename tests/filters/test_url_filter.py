import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest

from datamill.catalog import STAGES
from datamill.filters.url_filter import URLFilter
from datamill.pipeline.io import read_stage
from datamill.pipeline.runner import run_pipeline
from datamill.typed_config import ConfigError
from tests.conftest import configured


def write(path: Path, *lines: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def docs(urls) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(urls))], "text": ["x"] * len(urls),
                     "url": pa.array(urls, pa.string())})


def run(stage, urls) -> tuple[pa.Table, list]:
    out = stage.annotate(docs(urls))
    return out, stage.reasons(out).to_pylist()


@pytest.fixture(scope="module")
def real_urls(shared_data) -> list[str]:
    """The 990 keys of trafilatura's evaldata.json: 954 real URLs and 36 page names ("hard::...")."""
    return sorted(json.loads((shared_data / "web-trafilatura" / "evaldata.json").read_text()))


def test_listed_domain_blocks_itself_and_its_subdomains_on_real_urls(real_urls, tmp_path):
    assert STAGES["url_filter"] is URLFilter
    listed = ["wordpress.com", "chip.de", "scilogs.spektrum.de", "dailymail.co.uk", "web.archive.org", "co.uk"]
    blocklist = write(tmp_path / "block.txt", "# test list", "", *[d.upper() if d == "chip.de" else d for d in listed])
    _, reasons = run(URLFilter(blocklist=blocklist), real_urls)

    def reference(url):  # brute force over the list; a public suffix (co.uk) never matches
        host = urlsplit(url).hostname if "://" in url else None
        return host is not None and any(host == d or host.endswith("." + d) for d in listed if d != "co.uk")

    expected = [reference(u) for u in real_urls]
    assert [r == "url_blocklist" for r in reasons] == expected
    blocked = [u for u, e in zip(real_urls, expected) if e]
    assert sum("wordpress.com" in u for u in blocked) >= 3 and sum("web.archive.org" in u for u in blocked) == 21
    assert any("www.chip.de" in u for u in blocked) and any("www.dailymail.co.uk" in u for u in blocked)
    # co.uk is listed, yet the other .co.uk sites and spektrum.de's other hosts pass
    assert any(".co.uk/" in u for u, r in zip(real_urls, reasons) if r is None)


def test_subdomain_entries_ports_case_and_idna(tmp_path):
    blocklist = write(tmp_path / "b.txt", "b.example.com", "*.wild.org", "bücher.de", "10.0.0.1", "0.0.2", "com")
    _, reasons = run(URLFilter(blocklist=blocklist), [
        "https://a.b.example.com/x", "http://B.Example.COM:8080/", "https://example.com/", "https://c.example.com",
        "http://wild.org", "http://www.BÜCHER.de/", "http://xn--bcher-kva.de", "http://10.0.0.1/a", "http://110.0.0.1/",
        "b.example.com/no-scheme", "http://10.0.0.2/"])  # an IP address is not a domain: no parents
    assert reasons == ["url_blocklist", "url_blocklist", None, None, "url_blocklist", "url_blocklist",
                       "url_blocklist", "url_blocklist", None, "url_blocklist", None]


def test_ut1_directory_categories_and_url_prefixes(tmp_path):
    ut1 = tmp_path / "blacklists"
    write(ut1 / "adult" / "domains", "adult.example", "shop.mixed.org")
    write(ut1 / "adult" / "urls", "mixed.org/adult", "www.news.org/sex/story")
    write(ut1 / "adult" / "usage", "black")  # UT1's usage file is not a list
    write(ut1 / "gambling" / "domains", "casino.example")
    urls = ["http://adult.example/", "http://casino.example/", "http://mixed.org/adult/page", "http://mixed.org/adultery",
            "http://www.mixed.org/adult", "http://sub.mixed.org/adult", "http://news.org/sex/story/2", "http://news.org/sex",
            "http://shop.mixed.org/", "http://mixed.org/"]
    out, every = run(URLFilter(blocklist=str(ut1)), urls)
    assert every == ["url_blocklist", "url_blocklist", "url_blocklist", None, "url_blocklist", None, "url_blocklist",
                     None, "url_blocklist", None]
    assert out.column("url_blocklist_match").to_pylist()[:3] == ["adult.example", "casino.example", "mixed.org/adult"]
    _, adult = run(URLFilter(blocklist=str(ut1), categories=("adult",)), urls)
    assert adult == [every[0], None, *every[2:]]
    with pytest.raises(ValueError, match=r"unknown categories \['porn'\].*\['adult', 'gambling'\]"):
        run(URLFilter(blocklist=str(ut1), categories=("porn",)), urls)
    with pytest.raises(ValueError, match="is a file"):
        run(URLFilter(blocklist=str(ut1 / "adult" / "domains"), categories=("adult",)), urls)


def test_allowlist_beats_every_rule(tmp_path):
    block = write(tmp_path / "block.txt", "example.com")
    allow = write(tmp_path / "allow.txt", "good.example.com", "example.com/ok")
    words = write(tmp_path / "words.txt", "casino")
    stage = URLFilter(blocklist=block, allowlist=allow, url_substrings=("casino",), banned_words_path=words,
                      banned_subwords_path=words, soft_banned_words_path=words, soft_word_threshold=1)
    out, reasons = run(stage, ["http://good.example.com/casino", "http://a.good.example.com/", "http://example.com/ok/x",
                               "http://example.com/casino", "http://other.org/casino-x"])
    assert reasons == [None, None, None, "url_blocklist", "url_substring"]
    assert out.column("url_allowlisted").to_pylist() == [True, True, True, False, False]
    assert out.column("url_blocklist_match").to_pylist()[0] == "example.com"  # scored, not acted on


def test_substrings_banned_words_soft_words_and_subwords(tmp_path):
    banned = write(tmp_path / "banned.txt", "#comment", "porn", "sex")
    soft = write(tmp_path / "soft.txt", "hot", "babes", "live")
    subwords = write(tmp_path / "sub.txt", "2 girls 1 cup", "xvideo")
    urls = ["http://Example.org/SEX/", "http://sexy.example.org/", "http://essex.ac.uk/", "http://hot-hot.com/",
            "http://hot.com/live-babes", "http://x.org/2-girls-1-cup", "http://myxvideos.net", "http://a.org/?q=Casino",
            "http://porn.com/sex"]
    stage = URLFilter(url_substrings=("casino", "/ads/"), banned_words_path=banned, soft_banned_words_path=soft,
                      banned_subwords_path=subwords)
    out, reasons = run(stage, urls)
    assert out.column("url_num_banned_words").to_pylist() == [1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert out.column("url_num_soft_banned_words").to_pylist() == [0, 0, 0, 1, 3, 0, 0, 0, 0]  # distinct words
    assert out.column("url_num_substrings").to_pylist() == [0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert reasons == ["url_banned_word", None, None, None, "url_soft_banned_words", "url_banned_subword",
                       "url_banned_subword", "url_substring", "url_banned_word"]
    _, strict = run(URLFilter(soft_banned_words_path=soft, soft_word_threshold=1), urls)
    assert strict[3] == "url_soft_banned_words"


def test_documents_without_url_are_kept_and_counted(tmp_path):
    stage = URLFilter(url_substrings=("hard",), blocklist=write(tmp_path / "b.txt", "x.org"))
    out, reasons = run(stage, [None, "", "hard::page.html", "http://", "http://x.org/hard"])
    assert reasons == [None, None, None, None, "url_blocklist"]
    assert out.column("url_missing").to_pylist() == [True, True, True, True, False]
    no_column = stage.annotate(pa.table({"id": ["0"], "text": ["x"]}))
    assert no_column.column("url_missing").to_pylist() == [True] and stage.reasons(no_column).to_pylist() == [None]


def test_an_edited_list_is_read_again(tmp_path):
    path = tmp_path / "b.txt"
    stage = URLFilter(blocklist=write(path, "a.org"))
    assert run(stage, ["http://a.org", "http://bb.org"])[1] == ["url_blocklist", None]
    write(path, "bb.org")
    os.utime(path, ns=(1, 1))
    assert run(stage, ["http://a.org", "http://bb.org"])[1] == [None, "url_blocklist"]


def test_one_partition_equals_many(real_urls, tmp_path):
    stage = URLFilter(blocklist=write(tmp_path / "b.txt", "wordpress.com", "de"),
                      url_substrings=("2012",), banned_words_path=write(tmp_path / "w.txt", "blog", "news"))
    table = docs(real_urls)
    whole = stage.annotate(table)
    whole = whole.append_column("reason", stage.reasons(whole))
    pieces = []
    for start in range(0, table.num_rows, 37):
        part = stage.annotate(table.slice(start, 37))
        pieces.append(part.append_column("reason", stage.reasons(part)))
    assert pa.concat_tables(pieces).to_pylist() == whole.to_pylist()
    assert {"url_substring", "url_banned_word", "url_blocklist", None} <= set(whole.column("reason").to_pylist())


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="set at least one of blocklist"):
        configured(URLFilter)
    with pytest.raises(ConfigError, match="an allowlist only exempts"):
        configured(URLFilter, allowlist="a.txt")
    with pytest.raises(ConfigError, match="no blocklist is set"):
        configured(URLFilter, url_substrings=["x"], categories=["adult"])
    with pytest.raises(ConfigError, match="'url_substrings'"):
        configured(URLFilter, url_substrings="casino")
    with pytest.raises(ConfigError, match="empty string"):
        configured(URLFilter, url_substrings=["casino", ""])
    with pytest.raises(ConfigError, match="soft_word_threshold"):
        configured(URLFilter, soft_banned_words_path="s.txt", soft_word_threshold=0)
    with pytest.raises(ConfigError, match="'mode'"):
        configured(URLFilter, blocklist="b.txt", mode="remove")
    with pytest.raises(ConfigError, match="unknown key.*'blacklist'"):
        configured(URLFilter, blacklist="b.txt")
    stage = configured(URLFilter, blocklist="b.txt", categories=["adult"], url_substrings=["x"])
    assert stage.categories == ("adult",) and stage.url_substrings == ("x",)


def pipeline_config(out: Path, jsonl: Path, lists: dict, partition_rows: int) -> dict:
    return {"name": "urls", "output": str(out), "execution": {"partition_rows": partition_rows},
            "sources": {"web": {"format": "jsonl", "path": str(jsonl), "id_field": "id"}},
            "stages": {"urls": {"use": "url_filter", "input": "web", **lists},
                       "flag": {"use": "url_filter", "input": "web", "mode": "annotate", **lists}}}


def test_pipeline_embedded_and_multiprocess_clusters_agree(shared_data, real_urls, tmp_path, client, proc_cluster):
    pages = json.loads((shared_data / "web-trafilatura" / "evaldata.json").read_text())
    jsonl = tmp_path / "pages.jsonl"
    with open(jsonl, "w") as f:
        for i, url in enumerate(real_urls):  # the page's must-keep snippets as its text; "hard::..." keys have no URL
            row = {"id": f"p{i}", "text": " ".join(pages[url]["with"])}
            if i % 50:
                row["url"] = url
            f.write(json.dumps(row) + "\n")
    lists = {"blocklist": write(tmp_path / "ut1" / "blog" / "domains", "wordpress.com", "blogspot.com", "co.uk"),
             "allowlist": write(tmp_path / "allow.txt", "buchperlen.wordpress.com"),
             "url_substrings": ["/2012/"], "banned_words_path": write(tmp_path / "words.txt", "news")}
    lists["blocklist"] = str(tmp_path / "ut1")
    one = run_pipeline(pipeline_config(tmp_path / "one", jsonl, lists, 100_000), client=client, progress=False)
    many = run_pipeline(pipeline_config(tmp_path / "many", jsonl, lists, 97), client=client, progress=False)
    with proc_cluster.client() as c:
        procs = run_pipeline(pipeline_config(tmp_path / "procs", jsonl, lists, 97), client=c, progress=False)
    assert one.stats["web"]["partitions"] == 1 and many.stats["web"]["partitions"] >= 10
    for stage in ("urls", "flag"):
        ref = read_stage(str(tmp_path / "one"), stage).to_pylist()
        assert read_stage(str(tmp_path / "many"), stage).to_pylist() == ref
        assert read_stage(str(tmp_path / "procs"), stage).to_pylist() == ref
        assert procs.stats[stage]["removed"] == one.stats[stage]["removed"]
    removed = one.stats["urls"]["removed"]
    assert set(removed) == {"url_blocklist", "url_substring", "url_banned_word"} and min(removed.values()) >= 2
    assert one.stats["flag"]["flagged"] == removed and one.stats["flag"]["rows_out"] == len(real_urls)
    missing = 36 + sum(1 for i, u in enumerate(real_urls) if i % 50 == 0 and "://" in u)
    assert one.stats["urls"]["histograms"]["url_missing"]["0.95"] == missing  # True lands in the top [0.95, 1] bin
    kept = read_stage(str(tmp_path / "one"), "urls")
    assert any("buchperlen.wordpress.com" in (u or "") for u in kept.column("url").to_pylist())
