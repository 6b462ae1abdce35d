import json

import pyarrow as pa
import pytest

from tests.conftest import configured

from datamill.stage import REMOVAL_REASON
from datamill.stages.metadata_prefix import PREFIX_COLUMN, MetadataPrefix, url_host
from datamill.catalog import STAGES


def prefixes(stage, urls):
    table = pa.table({"id": [str(i) for i in range(len(urls))], "text": ["x"] * len(urls),
                      "url": pa.array(urls, pa.string())})
    return stage(table).column(PREFIX_COLUMN).to_pylist()


def test_meco_default_is_the_full_host():
    assert STAGES["metadata_prefix"] is MetadataPrefix
    got = prefixes(MetadataPrefix(), ["https://en.wikipedia.org/wiki/X", "http://Blog.Example.com:8080/a?b#c",
                                      "https://user:pw@news.bbc.co.uk/x", "en.wikipedia.org/wiki/Y",
                                      "https://example.org?q=1"])
    assert got == ["URL: en.wikipedia.org\n\n", "URL: blog.example.com:8080\n\n", "URL: news.bbc.co.uk\n\n",
                   "URL: en.wikipedia.org\n\n", "URL: example.org\n\n"]


def test_host_modes_registered_domain_tld_and_hash():
    urls = ["https://en.wikipedia.org/wiki/X", "https://news.bbc.co.uk/a", "http://127.0.0.1:5000/x"]
    assert prefixes(MetadataPrefix(host="registered_domain"), urls) == [
        "URL: wikipedia.org\n\n", "URL: bbc.co.uk\n\n", "URL: 127.0.0.1\n\n"]
    assert prefixes(MetadataPrefix(host="tld", template="{host}"), urls)[:2] == ["org", "co.uk"]
    hashed = prefixes(MetadataPrefix(host="hash", template="{host}"),
                      urls + ["https://en.wikipedia.org/wiki/Other"])
    assert hashed[0] == hashed[3] and len(set(hashed)) == 3 and all(len(h) == 16 for h in hashed)
    assert "wikipedia" not in hashed[0]
    salted = prefixes(MetadataPrefix(host="hash", template="{host}", hash_salt="s"), urls)
    assert salted[0] != hashed[0]


def test_documents_without_url():
    urls = ["https://a.com/x", None, ""]
    assert prefixes(MetadataPrefix(), urls) == ["URL: a.com\n\n", "", ""]
    assert prefixes(MetadataPrefix(missing="fixed", missing_host="none"), urls)[1:] == ["URL: none\n\n"] * 2
    out = MetadataPrefix(missing="drop")(pa.table({"id": ["0", "1", "2"], "text": ["x"] * 3, "url": urls}))
    assert out.column(REMOVAL_REASON).to_pylist() == [None, "no_url", "no_url"]
    no_column = MetadataPrefix()(pa.table({"id": ["0"], "text": ["x"]}))
    assert no_column.column(PREFIX_COLUMN).to_pylist() == [""]


def test_text_and_other_columns_are_unchanged_and_rerun_replaces_the_prefix():
    table = pa.table({"id": ["0"], "text": ["Body"], "url": ["https://a.com"], "quality_score": [0.5]})
    once = MetadataPrefix()(table)
    twice = MetadataPrefix(template="Site: {host}\n")(once)
    assert twice.column("text").to_pylist() == ["Body"] and twice.column("quality_score").to_pylist() == [0.5]
    assert twice.column(PREFIX_COLUMN).to_pylist() == ["Site: a.com\n"]
    assert twice.column_names.count(PREFIX_COLUMN) == 1


def test_bad_config_names_the_key():
    with pytest.raises(ValueError, match="key 'host'.*'registered_domain'"):
        configured(MetadataPrefix, host="domain")
    with pytest.raises(ValueError, match="key 'missing'.*'fixed'"):
        configured(MetadataPrefix, missing="skip")
    with pytest.raises(ValueError, match="template may use"):
        MetadataPrefix(template="URL: {domain}\n\n")


def test_real_urls_all_get_a_host_and_partitions_do_not_matter(shared_data):
    urls = sorted(u for u in json.loads((shared_data / "web-trafilatura" / "evaldata.json").read_text())
                  if u.startswith(("http://", "https://")))
    assert len(urls) > 900
    table = pa.table({"id": urls, "text": ["x"] * len(urls), "url": urls})
    stage = MetadataPrefix(host="registered_domain", template="{host}")
    whole = stage(table).column(PREFIX_COLUMN).to_pylist()
    parts = [p for i in range(0, len(urls), 100) for p in stage(table.slice(i, 100)).column(PREFIX_COLUMN).to_pylist()]
    assert whole == parts
    hosts = [url_host(u) for u in urls]
    assert all(whole) and all(h.split(":")[0].endswith(d) for h, d in zip(hosts, whole))
    assert sum(d != h for d, h in zip(whole, hosts)) > 100  # subdomains (www., blog.) really are dropped
