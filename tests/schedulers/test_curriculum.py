import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.schedulers.curriculum import Curriculum, empirical_cdf
from datamill.schedulers.pacing import Pacing


def _index(n=500, seed=0) -> pa.Table:
    rng = np.random.default_rng(seed)
    length = rng.integers(10, 2000, size=n).astype(np.int32)
    return pa.table({"id": [f"d{i}" for i in range(n)], "length": length,
                     "quality_score": rng.random(n)})


@pytest.mark.parametrize("kind", ["linear", "root", "quadratic", "inv_quadratic", "step", "exp"])
def test_pacing_starts_at_c0_rises_and_ends_at_one(kind):
    pace = Pacing(kind, length=100, start=0.05, stairs=4)
    c = [pace(t) for t in range(0, 151)]
    assert c[0] == pytest.approx(0.05)
    assert all(b >= a for a, b in zip(c, c[1:]))  # never decreases
    assert c[100] == 1.0 and c[150] == 1.0 and c[99] < 1.0
    assert pace.done(100) and not pace.done(99)


def test_pacing_formulas():
    lin, root = Pacing("linear", 100, 0.1), Pacing("root", 100, 0.1, p=2)
    assert lin(50) == pytest.approx(0.55)
    assert root(50) == pytest.approx(np.sqrt(50 * (1 - 0.01) / 100 + 0.01))  # Platanios et al. sqrt
    assert Pacing("quadratic", 100, 0.0001)(50) < lin(50) < Pacing("inv_quadratic", 100, 0.1)(50)
    step = Pacing("step", 100, 0.2, stairs=1)
    assert step(99) == pytest.approx(0.2) and step(100) == 1.0  # single step (Hacohen & Weinshall)
    exp = Pacing("exp", 100, 0.125, inc=2.0)  # 3 stairs of 33.3 steps: 1/8, 1/4, 1/2, then 1
    assert [exp(t) for t in (0, 34, 67, 100)] == pytest.approx([0.125, 0.25, 0.5, 1.0])


def test_cyclical_pacing_repeats_easy_to_hard():
    pace = Pacing("linear", 50, 0.1, cyclical=True)
    assert pace(0) == pace(50) == pace(100) == pytest.approx(0.1)
    assert pace(49) == pace(99) and pace(49) > 0.95
    assert not pace.done(10_000)


def test_empirical_cdf_with_ties_nan_and_direction():
    v = np.array([3.0, 1.0, 2.0, 2.0, np.nan])
    np.testing.assert_allclose(empirical_cdf(v), [0.8, 0.2, 0.6, 0.6, 1.0])
    np.testing.assert_allclose(empirical_cdf(v, higher_is_harder=False), [0.2, 0.8, 0.6, 0.6, 1.0])


@pytest.mark.parametrize("pacing", ["linear", "root", "exp"])
def test_sampled_difficulty_quantile_follows_the_pacing(pacing):
    index = _index()
    cur = Curriculum(column="length", pacing=pacing, length=200, start=0.05)
    d = cur.difficulty("web", index)
    rng = np.random.default_rng(1)
    prev_mean = -1.0
    for t in (0, 25, 50, 100, 150, 199):
        c = cur.competence(t)
        p = cur.doc_probabilities("web", index, t)
        assert p.shape == (index.num_rows,) and (p >= 0).all()
        admitted = p > 0
        # exactly the documents at or below the competence quantile, i.e. a c-fraction of them
        assert admitted.mean() == pytest.approx(c, abs=1.5 / index.num_rows)
        assert d[admitted].max() <= c + 1e-12
        draws = rng.choice(index.num_rows, size=2000, p=p / p.sum())
        assert d[draws].max() <= c + 1e-12  # the sampled quantile never exceeds c(t)
        mean = float(d[draws].mean())
        assert mean > prev_mean - 0.01  # and rises with it
        prev_mean = mean
    assert cur.doc_probabilities("web", index, 200) is None  # curriculum over: the loader's order


def test_token_weighting_and_docs_weighting():
    index = _index()
    length = index.column("length").to_numpy()
    p_tok = Curriculum(length=10, start=0.5).doc_probabilities("s", index, 0)
    p_doc = Curriculum(length=10, start=0.5, weight="docs").doc_probabilities("s", index, 0)
    np.testing.assert_allclose(p_tok[p_tok > 0], length[p_tok > 0])
    assert set(np.unique(p_doc)) == {0.0, 1.0} and ((p_tok > 0) == (p_doc > 0)).all()


def test_anti_curriculum_starts_with_the_hardest():
    index = _index()
    length = index.column("length").to_numpy()
    easy = Curriculum(column="length", length=100, start=0.1).doc_probabilities("s", index, 0) > 0
    hard = Curriculum(column="length", length=100, start=0.1, anti=True).doc_probabilities("s", index, 0) > 0
    assert length[easy].max() < np.median(length) < length[hard].min()


def test_lower_is_harder_for_quality_scores():
    index = _index()
    q = index.column("quality_score").to_numpy()
    first = Curriculum(column="quality_score", higher_is_harder=False, length=10, start=0.2)
    admitted = first.doc_probabilities("s", index, 0) > 0
    assert q[admitted].min() > np.quantile(q, 0.75)  # the best-scored fifth first


def test_difficulty_joined_from_a_scores_table(tmp_path):
    index = _index(100)
    ids = index.column("id").to_pylist()
    # a score for all but the last 10 documents, in a different row order
    pq.write_table(pa.table({"id": ids[:90][::-1], "ppl_difficulty": np.arange(90, dtype=float)[::-1]}),
                   tmp_path / "ppl.parquet")
    cur = Curriculum(column="ppl_difficulty", scores=str(tmp_path / "ppl.parquet"), length=10, start=0.1)
    d = cur.difficulty("s", index)
    np.testing.assert_allclose(d[:90], (np.arange(90) + 1) / 100)  # document i has score i
    assert (d[90:] == 1.0).all()  # missing: the hardest
    assert np.flatnonzero(cur.doc_probabilities("s", index, 0)).tolist() == list(range(10))


def test_bad_config_and_columns_name_the_key():
    with pytest.raises(ValueError, match="curriculum.pacing"):
        Curriculum(pacing="cosine")
    with pytest.raises(ValueError, match="curriculum.column.*'nope'"):
        Curriculum(column="nope").doc_probabilities("s", _index(), 0)
    with pytest.raises(ValueError, match="curriculum.weight"):
        Curriculum(weight="bytes")
