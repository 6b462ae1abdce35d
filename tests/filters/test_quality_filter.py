import numpy as np
import pyarrow as pa
import pytest

from datamill.filters.quality_filter import REASON, QualityFilter
from datamill.stage import REMOVAL_REASON

from tests.conftest import run_plan
from tests.filters.conftest import GOOD, SPAM


def corpus(n: int = 60) -> pa.Table:
    """Documents mixing encyclopedic and spam sentences in varying proportions."""
    rng = np.random.default_rng(0)
    texts = []
    for i in range(n):
        k = int(rng.integers(0, 6))
        texts.append(" ".join([GOOD[j % 5] for j in range(k)] + [SPAM[(i + j) % 5] for j in range(6 - k)])
                     + f" doc {i}")
    return pa.table({"id": [f"d{i:03d}" for i in range(n)], "text": texts})


def split(table: pa.Table, sizes: list[int]) -> list[pa.Table]:
    offsets = np.cumsum([0] + sizes)
    assert offsets[-1] == table.num_rows
    # take() copies: Dask's tokenize ignores a slice's offset, so scattered slices of one
    # table would all get the same key
    return [table.take(np.arange(a, b)) for a, b in zip(offsets[:-1], offsets[1:])]


def outcome(parts: list[pa.Table]) -> tuple[dict, dict]:
    out = pa.concat_tables(parts)
    ids = out["id"].to_pylist()
    return (dict(zip(ids, out[REMOVAL_REASON].to_pylist())),
            dict(zip(ids, out["quality_score"].to_pylist())))


# Sentences the model never saw (tiny_quality_model trains on GOOD and SPAM): it has to generalise
# from shared words, not recall its training lines.
HELD_OUT_GOOD = ["the council published a report on the history of the city harbour",
                 "scientists measured how the glacier changed over the last century",
                 "the library holds a collection of letters written by the poet",
                 "engineers explained how the bridge carries the weight of traffic",
                 "the festival celebrated the music and dance of the region"]
HELD_OUT_SPAM = ["click now to claim your free prize cheap offer",
                 "buy cheap viagra now best deal click here",
                 "limited offer click here win cash now free",
                 "cheap replica bags sale click buy now",
                 "free spins casino bonus click here now"]


def test_scores_rank_held_out_good_above_spam(tiny_quality_model):
    assert not set(HELD_OUT_GOOD + HELD_OUT_SPAM) & set(GOOD + SPAM)
    stage = QualityFilter(model=tiny_quality_model, label="__label__hq")
    scored = stage.score(pa.table({"text": HELD_OUT_GOOD + HELD_OUT_SPAM + [""]}))
    scores = scored["quality_score"].to_pylist()
    good, spam = scores[:5], scores[5:10]
    assert min(good) > 0.9 and max(spam) < 0.1, (good, spam)
    assert scored["quality_score"].type == pa.float32()


@pytest.mark.parametrize("keep_fraction", [0.1, 0.25, 1.0, 0.0])
def test_global_top_fraction_whatever_the_partitioning(client, tiny_quality_model, keep_fraction):
    table = corpus()
    stage = QualityFilter(model=tiny_quality_model, keep_fraction=keep_fraction)
    reasons, scores = outcome(run_plan(client, stage, [table]))
    # exact: the kept rows are those scoring at least the k-th highest score
    k = int(np.ceil(keep_fraction * table.num_rows))
    ranked = sorted(scores.values(), reverse=True)
    cutoff = ranked[k - 1] if k else np.inf
    assert {i for i, r in reasons.items() if r is None} == {i for i, s in scores.items() if s >= cutoff}
    assert set(reasons.values()) <= {None, REASON}
    assert len([r for r in reasons.values() if r is None]) >= k
    for sizes in ([60], [3] * 20, [7, 0, 23, 30]):
        again = outcome(run_plan(client, stage, split(table, sizes)))
        assert again == (reasons, scores)  # same rows kept, nothing lost or duplicated


def test_fixed_threshold_and_annotate_mode(client, tiny_quality_model):
    table = corpus()
    stage = QualityFilter(model=tiny_quality_model, threshold=0.5, mode="annotate")
    reasons, scores = outcome(run_plan(client, stage, split(table, [20, 40])))
    assert all((r is None) == (scores[i] >= 0.5) for i, r in reasons.items())
    assert 0 < sum(r is None for r in reasons.values()) < table.num_rows


def test_config_errors():
    with pytest.raises(ValueError, match="model"):
        QualityFilter()
    with pytest.raises(ValueError, match="keep_fraction"):
        QualityFilter(model="m.bin", keep_fraction=1.5)


def test_missing_model_and_wrong_label_name_the_stage(tmp_path, tiny_quality_model):
    with pytest.raises(FileNotFoundError, match="quality_filter"):
        QualityFilter(model=str(tmp_path / "none.bin")).score(pa.table({"text": ["x"]}))
    with pytest.raises(ValueError, match="__label__nope"):
        QualityFilter(model=tiny_quality_model, label="__label__nope").score(pa.table({"text": ["x"]}))
