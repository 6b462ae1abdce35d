import pyarrow as pa

from datamill.stage import REMOVAL_REASON
from datamill.stages.exact_dedup import ExactDedup
from tests.conftest import run_plan


def _marks(out: list[pa.Table]) -> dict[str, str | None]:
    return {i: d for t in out for i, d in zip(t.column("id").to_pylist(), t.column("exact_duplicate_of").to_pylist())}


def test_the_smallest_id_of_each_text_is_kept_across_partitions(client):
    parts = [pa.table({"id": ["b", "x", "c"], "text": ["same text", "other", "Same text"]}),
             pa.table({"id": ["a0", "a", "z"], "text": ["other", "same \n text", "same text"]}),
             pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})]
    out = run_plan(client, ExactDedup(), parts)
    assert [t.num_rows for t in out] == [3, 3, 0]  # annotated in place; the engine drops on the reason
    assert _marks(out) == {"b": "a", "x": "a0", "c": None, "a0": None, "a": None, "z": "a"}
    assert out[0].column(REMOVAL_REASON).to_pylist() == ["exact_duplicate", "exact_duplicate", None]
    folded = _marks(run_plan(client, ExactDedup(lowercase=True), parts))
    assert folded["c"] == "a"


def test_integer_ids_compare_as_their_decimal_strings(client):
    parts = [pa.table({"id": [10, 9], "text": ["t", "t"]})]
    assert _marks(run_plan(client, ExactDedup(), parts)) == {10: None, 9: "10"}
