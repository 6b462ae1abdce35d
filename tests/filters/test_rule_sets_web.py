"""The rule sets on real web pages: partition invariance and removal reasons."""

from collections import Counter

import pyarrow as pa
import pytest

from datamill.filters.c4_quality import C4QualityFilter
from datamill.filters.fineweb_quality import FineWebQualityFilter
from datamill.filters.gopher_quality import GopherQualityFilter
from datamill.filters.gopher_repetition import GopherRepetitionFilter
from datamill.stage import REMOVAL_REASON, with_reasons
from tests.filters.texts import GOOD, GOOD_LINES


def stages(shared_data=None):
    badwords = str(shared_data / "badwords-ldnoobw" / "en") if shared_data else ""
    return [GopherQualityFilter(), GopherRepetitionFilter(),
            C4QualityFilter(badwords_path=badwords), FineWebQualityFilter()]


def run(stage, table: pa.Table) -> pa.Table:
    """What the engine does with a filter on one partition (reasons attached, nothing dropped)."""
    annotated = stage.annotate(table)
    return with_reasons(annotated, stage.reasons(annotated))


def split(table: pa.Table, sizes: list[int]) -> list[pa.Table]:
    parts, start = [], 0
    for size in sizes:
        parts.append(table.slice(start, size))
        start += size
    assert start == table.num_rows
    return parts


def check_partition_invariance(stage, table: pa.Table, sizes: list[int]) -> pa.Table:
    whole = run(stage, table)
    pieces = pa.concat_tables([run(stage, p) for p in split(table, sizes)])
    assert pieces.equals(whole), stage.use
    reasons = whole.column(REMOVAL_REASON).to_pylist()
    kept = [i for i, r in zip(whole["id"].to_pylist(), reasons) if r is None]
    dropped = [i for i, r in zip(whole["id"].to_pylist(), reasons) if r is not None]
    assert sorted(kept + dropped) == sorted(table["id"].to_pylist())
    assert not set(kept) & set(dropped)
    return whole


def literal_docs() -> pa.Table:
    texts = [GOOD, GOOD + "\n" + GOOD_LINES[0], "short", "", "Lorem ipsum dolor sit amet.\n" + GOOD,
             "\n".join(GOOD_LINES * 3), "- a\n- b\n- c", GOOD.upper(), "# " * 80]
    return pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


@pytest.mark.parametrize("stage", stages(), ids=lambda s: s.use)
def test_partition_invariance_literal(stage):
    table = literal_docs()
    for sizes in ([9], [1] * 9, [4, 0, 5], [2, 3, 4]):
        check_partition_invariance(stage, table, sizes)


@pytest.mark.parametrize("stage", stages(), ids=lambda s: s.use)
def test_chunked_passes_match_one_pass(stage, monkeypatch):
    """Annotating in small byte-bounded chunks (bounded memory) changes nothing."""
    from datamill.filters import _text

    table = literal_docs()
    whole = run(stage, table)
    monkeypatch.setattr(_text, "CHUNK_BYTES", 300)  # a chunk per row or two
    assert run(stage, table).equals(whole)
    assert run(stage, table.slice(3, 5)).equals(whole.slice(3, 5))


@pytest.mark.slow  # the web_text fixture extracts 990 pages (about a minute, once per session)
def test_rule_sets_on_real_web_pages(web_text, shared_data):
    table = web_text.select(["id", "text"])
    n = table.num_rows
    assert n > 900
    sizes = [n // 3, n // 3, n - 2 * (n // 3)]
    by_stage = {}
    for stage in stages(shared_data):
        out = check_partition_invariance(stage, table, sizes)
        by_stage[stage.use] = Counter(r for r in out.column(REMOVAL_REASON).to_pylist() if r)
    # Each rule set removes some but not all pages, for several distinct reasons.
    for name, counts in by_stage.items():
        removed = sum(counts.values())
        assert 0.02 * n < removed < 0.9 * n, (name, counts)
        assert len(counts) >= 3, (name, counts)
        assert all(reason.startswith(name.split("_")[0]) for reason in counts)
    # The pages are multilingual: Gopher's English stop-word rule is the main remover.
    assert by_stage["gopher_quality"].most_common(1)[0][0] == "gopher_stop_words"
