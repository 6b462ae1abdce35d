"""paragraph_dedup on real pages: boilerplate planted into trafilatura's main text, the Common
Crawl documents of Dolma's fixtures, and the engine on the embedded vs a multi-process cluster."""

import gzip
import json

import pyarrow as pa
import pytest

from datamill.pipeline.runner import run_pipeline
from datamill.stage import REMOVAL_REASON
from datamill.stages.paragraph_dedup import ParagraphDedup
from tests.conftest import run_plan
from tests.reliability.runs import data_files, stage_digests

# Real footer and banner lines, copied from the raw HTML footers of pages in web-trafilatura
# (bahamaslocal.com, pcgamer.com, haitiantimes.com, mercurynews.com, laprensagrafica.com,
# panamaamerica.com.pa); trafilatura leaves them out of those pages' main text.
COOKIE = ("Utilizamos cookies propias y de terceros para mejorar nuestros servicios y mostrarle publicidad "
          "relacionada con sus preferencias mediante el análisis de sus hábitos de navegación.")
COPYRIGHT = ["Copyright © 2023 MediaNews Group", "Copyright © 2024 MediaNews Group",
             "COPYRIGHT © 2022 MEDIANEWS GROUP."]  # one line once normalised (case, digits, punctuation)
FOOTERS = ["Sign up for our newsletter. We won't share your email address.",
           "By submitting your information you agree to the Terms & Conditions and Privacy Policy and are aged 16 or over.",
           "Proudly powered by Newspack by Automattic",
           "Derechos Reservados © 2022, Dutriz Hermanos, S.A. de C.V. - El uso de este sitio implica la aceptación "
           "de las condiciones generales de uso"]
NAV = ["Recibe las noticias por e-mail", "Place a Real Estate Ad"]
PLANTED = [COOKIE, *COPYRIGHT, *FOOTERS, *NAV]


def plant(table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Every 3rd page gets the cookie line on top and two footer lines at the end, every 6th a
    navigation line in the middle; returns the new table and the lines planted per id."""
    texts, planted = [], {}
    for k, (i, text) in enumerate(zip(table.column("id").to_pylist(), table.column("text").to_pylist())):
        if k % 3 == 0:
            lines = text.split("\n")
            if k % 6 == 0:  # after a non-blank line (cutting a line out of a blank run closes the gap)
                at = next((j for j in range(len(lines) // 2, len(lines)) if lines[j].strip()), len(lines) - 1)
                lines.insert(at + 1, NAV[k // 6 % len(NAV)])
            lines = [COOKIE, *lines, COPYRIGHT[k // 3 % 3], FOOTERS[k // 3 % len(FOOTERS)]]
            planted[i] = len(lines) - text.count("\n") - 1
            text = "\n".join(lines)
        texts.append(text)
    return table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string())), planted


def rows(out: list[pa.Table]) -> dict[str, dict]:
    return {r["id"]: r for t in out for r in t.to_pylist()}


def chunks(table: pa.Table, sizes: list[int]) -> list[pa.Table]:
    out, start = [], 0
    for n in sizes:
        out.append(table.slice(start, n))
        start += n
    return out + [table.slice(start)]


@pytest.fixture(scope="module")
def web(web_text) -> pa.Table:
    """The pages without exact copies, as after ``exact_dedup``: two pages are in the set twice (same
    text, two urls), and with keep_first=false every line of both copies is boilerplate (CCNet's rule)."""
    first = {}
    for k, text in enumerate(web_text.column("text").to_pylist()):
        first.setdefault(text, k)
    assert len(first) == web_text.num_rows - 2
    return web_text.select(["id", "url", "text"]).take(sorted(first.values()))


def test_planted_boilerplate_is_removed_and_real_lines_are_untouched(client, web):
    stage = ParagraphDedup()
    keys = {stage.key(line) for line in PLANTED}
    assert len(keys) == len(PLANTED) - 2  # the three copyright variants are one unit
    assert not any(stage.key(u) in keys for t in web.column("text").to_pylist() for u in t.split("\n"))
    planted, counts = plant(web)
    assert len(counts) >= 300
    base = rows(run_plan(client, stage, chunks(web, [400, 300])))
    out = rows(run_plan(client, stage, chunks(planted, [400, 300])))
    for i, r in out.items():  # exactly the planted lines are gone: the same text as without them
        assert r["text"] == base[i]["text"], i
        assert r["boilerplate_removed"] == base[i]["boilerplate_removed"] + counts.get(i, 0), i
    # what recurs in trafilatura's own output (pages present twice, date lines, short headings) is rare
    original = dict(zip(web.column("id").to_pylist(), web.column("text").to_pylist()))
    lines = sum(t.count("\n") + 1 for t in original.values())
    cut = sum(r["boilerplate_removed"] for r in base.values())
    assert 0 < cut < 0.02 * lines, (cut, lines)
    assert sum(r["text"] != original[i] for i, r in base.items()) < 0.1 * len(base)


def test_exact_copies_vanish_unless_keep_first(client, web_text):
    """The set's two pages stored twice: CCNet's rule removes every line of both copies; keep_first
    keeps the smallest id whole (so run exact_dedup first, or set keep_first)."""
    by_text = {}
    for i, text in zip(web_text.column("id").to_pylist(), web_text.column("text").to_pylist()):
        by_text.setdefault(text, []).append(i)
    copies = sorted(ids for ids in by_text.values() if len(ids) > 1)
    table = web_text.select(["id", "text"])
    drop = rows(run_plan(client, ParagraphDedup(), chunks(table, [500])))
    assert {i for i, r in drop.items() if r[REMOVAL_REASON]} == {i for ids in copies for i in ids}
    keep = rows(run_plan(client, ParagraphDedup(keep_first=True), chunks(table, [500])))
    for ids in copies:
        first, other = sorted(ids)
        assert keep[first]["boilerplate_removed"] == 0 and keep[first][REMOVAL_REASON] is None
        assert keep[other][REMOVAL_REASON] == "boilerplate_only"


def test_one_partition_equals_many_on_real_pages(client, web):
    planted, _ = plant(web)
    for stage in (ParagraphDedup(), ParagraphDedup(keep_first=True, unit="paragraph", min_words=0)):
        one = run_plan(client, stage, [planted])[0]
        many = pa.concat_tables(run_plan(client, stage, chunks(planted, [1, 50, 0, 211, 97, 333, 2])))
        assert many.to_pylist() == one.to_pylist()


def test_common_crawl_fixture_pages_of_one_site_lose_their_shared_navigation(client, shared_data):
    docs = []
    for name in ("multiple_files__cc_en_head-0091.jsonl.gz", "multiple_files__cc_en_head-0174.jsonl.gz",
                 "provided__documents__000.json.gz"):
        with gzip.open(shared_data / "web-dolma-fixtures" / name, "rt") as f:
            docs += [{"id": r["id"], "text": r["text"]} for r in map(json.loads, f)]
    out = rows(run_plan(client, ParagraphDedup(), [pa.Table.from_pylist(docs[:15]), pa.Table.from_pylist(docs[15:])]))
    changed = {i for i, r in out.items() if r["boilerplate_removed"]}
    # CCNet already line-deduplicated its cc_en_head documents; the two advocatesaz.org tag pages
    # (Planned Parenthood Arizona's blog) share their sidebar: categories, archive menu, follow links
    assert changed == {"http://advocatesaz.org/tag/antibiotic-resistant-bacteria/",
                       "http://advocatesaz.org/tag/good-cholesterol/"}
    for i in changed:
        text = out[i]["text"]
        assert "Birth Control (83)" not in text and "Follow us on Twitter! Like us on Facebook!" not in text
        assert out[i][REMOVAL_REASON] is None and len(text.split()) > 100  # the posts themselves stay
        assert out[i]["boilerplate_removed"] >= 30


@pytest.mark.slow  # a multi-process Dask cluster
def test_embedded_and_multiprocess_clusters_give_identical_output(client, proc_cluster, web, tmp_path):  # noqa: F811
    planted, _ = plant(web)
    path = tmp_path / "web.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in planted.to_pylist():
            f.write(json.dumps(r) + "\n")
        f.write(json.dumps({"id": "only-boilerplate", "text": "\n".join([COOKIE, *NAV, FOOTERS[0]])}) + "\n")

    def config(out, partition_rows):
        return {"name": "pd", "sources": {"web": {"format": "jsonl", "path": str(path)}},
                "stages": [{"use": "paragraph_dedup"}], "output": str(tmp_path / out),
                "execution": {"partition_rows": partition_rows}}

    one = run_pipeline(config("one", 100_000), client=client, progress=False)
    many = run_pipeline(config("many", 97), client=client, progress=False)
    with proc_cluster.client() as c:
        run_pipeline(config("procs", 97), client=c, progress=False)
    assert many.stats["web"]["partitions"] >= 10 and one.stats["web"]["partitions"] == 1
    stats = many.stats["paragraph_dedup"]
    assert stats["removed"] == {"boilerplate_only": 1}
    assert stats["extra"]["boilerplate_units"] == one.stats["paragraph_dedup"]["extra"]["boilerplate_units"] >= 9
    assert data_files(tmp_path / "procs") == data_files(tmp_path / "many")
    assert stage_digests(tmp_path / "one", ["paragraph_dedup"]) == stage_digests(tmp_path / "many", ["paragraph_dedup"])
