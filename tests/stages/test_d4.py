"""SemDeDup and D4 on real text: paragraphs of the SQuALITY stories with planted duplicates.

Embeddings (all-MiniLM-L6-v2, 64 tokens) are computed once per session: ~1,100 documents.
"""

import collections
import json
import re

import numpy as np
import pyarrow as pa
import pytest

from datamill.partitions import Partitions, PlanContext, Value
from datamill.stages.semantic.d4 import D4Prune
from datamill.stages.semantic.encoders import from_arrow
from datamill.stages.semantic.embed import EmbeddingAnnotator
from datamill.stages.semantic.semdedup import SemDeDup
from datamill.stages.semantic.semdedup_tiles import prefix_max_sim
from datamill.stages.semantic.spherical_kmeans import assign
from tests.conftest import configured

N_REAL, N_COPIES, N_PARAPHRASES = 1000, 50, 50
EMBED = {"max_length": 64, "batch_size": 32}

SYNONYMS = {"said": "replied", "looked": "glanced", "big": "large", "small": "little", "quickly": "rapidly",
            "began": "started", "walked": "strolled", "asked": "inquired", "man": "fellow", "ship": "vessel",
            "answered": "responded", "saw": "noticed", "think": "believe", "very": "really",
            "room": "chamber", "turned": "swung", "shouted": "yelled", "face": "features", "eyes": "gaze",
            "don't": "do not", "I'm": "I am", "can't": "cannot", "it's": "it is", "didn't": "did not"}


def near_copy(text: str) -> str:
    """A re-posted copy: typographic quotes and dashes, and a share line at the end."""
    return text.replace('"', "\u201c", 1).replace("--", "\u2014").replace("'", "\u2019") + " Share this story."


def paraphrase(text: str) -> str:
    """Synonyms and expanded contractions, with a lead-in: same meaning, different words."""
    out = []
    for w in text.split():
        core = w.strip('.,;:!?"\'')
        rep = SYNONYMS.get(core) or SYNONYMS.get(core.lower())
        out.append(w.replace(core, rep) if rep else w)
    return "In other words, " + " ".join(out)


@pytest.fixture(scope="session")
def corpus(shared_data) -> tuple[pa.Table, dict]:
    """1,000 real story paragraphs + 100 planted duplicates; {planted id: original id}."""
    paragraphs = []
    for split in ("train", "dev", "test"):
        with open(shared_data / "squality" / f"v1-3_txt_{split}.jsonl") as f:
            for line in f:
                for p in re.split(r"\n\s*\n", json.loads(line)["document"]):
                    p = " ".join(p.split())
                    if 300 <= len(p) <= 1500:
                        paragraphs.append(p)
    rng = np.random.default_rng(7)
    real = [paragraphs[i] for i in sorted(rng.choice(len(paragraphs), N_REAL, replace=False))]
    ids = [f"p{i:04d}" for i in range(N_REAL)]
    src = rng.choice(N_REAL, N_COPIES + N_PARAPHRASES, replace=False)
    planted = {}
    texts = list(real)
    for j, i in enumerate(src):
        texts.append(near_copy(real[i]) if j < N_COPIES else paraphrase(real[i]))
        ids.append(f"x{j:03d}")
        planted[ids[-1]] = ids[i]
    order = rng.permutation(len(ids))  # planted rows anywhere, not at the end
    return pa.table({"id": [ids[i] for i in order], "text": [texts[i] for i in order]}), planted


@pytest.fixture(scope="session")
def embedded(corpus, pytestconfig) -> pa.Table:
    """The corpus with its embeddings; kept in pytest's cache dir, keyed by texts and options."""
    import hashlib

    import pyarrow.parquet as pq

    table, _ = corpus
    stage = EmbeddingAnnotator(**EMBED)
    digest = hashlib.sha1(json.dumps([table.column("text").to_pylist(), stage.config()]).encode())
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    if cache is None:
        return stage(table)
    path = cache.mkdir("d4-embeddings") / f"{digest.hexdigest()}.parquet"
    if path.exists():
        return pq.read_table(path)
    out = stage(table)
    pq.write_table(out, path)
    return out


def split(table: pa.Table, n: int, seed: int = 0) -> list[pa.Table]:
    """``n`` uneven partitions in row order."""
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, table.num_rows), n - 1, replace=False))
    bounds = [0, *cuts.tolist(), table.num_rows]
    return [table.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:])]


def run(client, stage, tables: list[pa.Table]) -> tuple[pa.Table, dict]:
    """The stage's plan on in-memory partitions: (rows sorted by id, with reasons; extra stats)."""
    parts = Partitions(client, client.scatter(tables, hash=False))
    ctx = PlanContext(stage_name="test", stage_dir=".", client=client)
    out = pa.concat_tables(stage.plan(ctx, parts).gather()).sort_by("id")
    stats = {k: v.result() if isinstance(v, Value) else v for k, v in ctx.extra_stats.items()}
    return out, stats


def reasons(out: pa.Table) -> dict[str, str | None]:
    return dict(zip(out.column("id").to_pylist(), out.column("_removal_reason").to_pylist()))


def test_semdedup_removes_planted_duplicates_and_keeps_unrelated_documents(client, corpus, embedded):
    _, planted = corpus
    # eps 0.14: real paragraphs stay below cosine 0.83, paraphrases are above 0.88 (64 tokens)
    out, stats = run(client, SemDeDup(eps=0.14, **EMBED), split(embedded, 4))
    why = reasons(out)
    cluster = dict(zip(out.column("id").to_pylist(), out.column("semdedup_cluster").to_pylist()))
    dup_of = dict(zip(out.column("id").to_pylist(), out.column("semdedup_dup_of").to_pylist()))
    split_by_kmeans = 0
    for copy, original in planted.items():
        if cluster[copy] != cluster[original]:  # out of SemDeDup's reach by design
            split_by_kmeans += 1
            continue
        removed = [m for m in (copy, original) if why[m] == "semdedup"]
        assert len(removed) == 1, (copy, original, why[copy], why[original])
        assert dup_of[removed[0]] in (copy, original)  # removed for its own twin
    assert split_by_kmeans <= 0.05 * len(planted)
    unrelated = [i for i in why if i not in planted and i not in set(planted.values())]
    removed = [i for i in unrelated if why[i] is not None]
    assert len(removed) <= 0.01 * len(unrelated), removed
    assert stats["semdedup_eps"] == 0.14


def test_d4_kept_fractions_match_targets(client, embedded):
    out, stats = run(client, D4Prune(r_dedup=0.75, r_proto=0.8, **EMBED), split(embedded, 3))
    counts = collections.Counter(out.column("_removal_reason").to_pylist())
    n = out.num_rows
    after_dedup = n - counts["semdedup"]
    assert abs(after_dedup / n - 0.75) <= 0.02
    assert abs(counts[None] / after_dedup - 0.8) <= 0.02
    assert stats["semdedup_kept_fraction"] == pytest.approx(after_dedup / n)
    assert stats["proto_kept_fraction"] == pytest.approx(counts[None] / after_dedup)
    assert 0 < stats["semdedup_eps"] < 1 and stats["semdedup_n_clusters"] == round(n ** 0.5)
    # the prototype cut: every pruned survivor is nearer its centroid than every kept one
    dist = out.column("d4_proto_dist").to_numpy(zero_copy_only=False)
    kinds = np.array(out.column("_removal_reason").to_pylist(), dtype=object)
    assert np.nanmax(dist[kinds == "ssl_prototype"]) <= np.nanmin(dist[kinds == None])  # noqa: E711
    assert np.isnan(dist[kinds == "semdedup"]).all()
    # SemDeDup's rule: removed rows sit above the calibrated threshold, kept ones at or below it
    sim = out.column("d4_max_sim").to_numpy()
    threshold = 1 - stats["semdedup_eps"]
    assert sim[kinds == "semdedup"].min() > threshold + 1e-9
    assert sim[kinds != "semdedup"].max() <= threshold + 1e-9


def test_d4_is_identical_across_partitionings_and_cluster_splits(client, embedded):
    one, stats_one = run(client, D4Prune(**EMBED), [embedded])
    # tile_rows below the largest cluster forces the block-pair path for the big clusters
    many, stats_many = run(client, D4Prune(tile_rows=80, **EMBED), split(embedded, 7, seed=3))
    assert max(int(k.split("-")[-1]) for k in stats_one["semdedup_cluster_sizes"]) > 80
    assert one.equals(many)
    assert stats_one == stats_many


def test_seed_changes_the_clustering(client, embedded):
    a, _ = run(client, SemDeDup(eps=0.1, seed=1, **EMBED), [embedded])
    b, _ = run(client, SemDeDup(eps=0.1, seed=2, **EMBED), [embedded])
    assert not a.column("semdedup_cluster").equals(b.column("semdedup_cluster"))
    again, _ = run(client, SemDeDup(eps=0.1, seed=1, **EMBED), split(embedded, 2))
    assert a.equals(again)


def test_max_similarity_matches_brute_force_per_cluster(client, embedded):
    out, _ = run(client, SemDeDup(r_dedup=0.9, which_to_keep="random", tile_rows=60, **EMBED),
                 split(embedded, 3))
    x = from_arrow(embedded.sort_by("id").column("embedding")).astype(np.float64)
    ids = np.array(out.column("id").to_pylist())
    labels = out.column("semdedup_cluster").to_numpy()
    got = out.column("semdedup_max_sim").to_numpy()
    import xxhash

    key = np.array([xxhash.xxh3_64_intdigest(i.encode(), seed=1234 + 1) for i in ids], dtype=np.uint64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        rows = rows[np.lexsort((ids[rows], key[rows].astype(np.float64)))]
        sims = x[rows] @ x[rows].T
        expect = np.array([sims[:j, j].max() if j else -1.0 for j in range(len(rows))])
        np.testing.assert_allclose(got[rows], expect, atol=1e-5)


def test_prefix_max_sim_chunks_agree_with_one_block():
    x = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    whole = prefix_max_sim(x, chunk=1000)
    chunked = prefix_max_sim(x, chunk=7)
    np.testing.assert_allclose(whole[0], chunked[0], atol=1e-6)
    assert (whole[1] == chunked[1]).all() and whole[1][0] == -1 and np.isinf(whole[0][0])


def test_assign_decides_near_ties_in_float64_whatever_the_batch():
    rng = np.random.default_rng(0)
    c = rng.normal(size=(40, 64))
    c = np.concatenate([c, c[:5], c[5:10] + 1e-7 * rng.normal(size=(5, 64))])  # exact and near ties
    c = (c / np.linalg.norm(c, axis=1, keepdims=True)).astype(np.float32)
    x = np.concatenate([c[:10] + 1e-4 * rng.normal(size=(10, 64)) for _ in range(30)] + [rng.normal(size=(200, 64))])
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    labels, sims = assign(x, c)
    truth = np.argmax(x64 @ c64.T, axis=1)  # float64, the lower index on an exact tie
    assert (labels == truth).all() and set(labels[:300]) <= set(range(10)) | set(range(40, 50))
    np.testing.assert_allclose(sims, (x64 * c64[truth]).sum(axis=1), atol=1e-7)
    pieces = [assign(x[i:i + 37], c, chunk=16) for i in range(0, len(x), 37)]
    assert np.array_equal(np.concatenate([p[0] for p in pieces]), labels)
    assert np.array_equal(np.concatenate([p[1] for p in pieces]), sims)


def test_embeds_inside_the_stage_when_no_embedding_column(client, corpus, embedded):
    table = corpus[0].slice(0, 24)
    out, _ = run(client, SemDeDup(eps=0.3, n_clusters=3, **EMBED), split(table, 2))
    ref, _ = run(client, SemDeDup(eps=0.3, n_clusters=3, **EMBED), [embedded.slice(0, 24)])
    assert "embedding" not in out.column_names  # computed vectors are not written
    np.testing.assert_allclose(out.column("semdedup_max_sim").to_numpy(),
                               ref.column("semdedup_max_sim").to_numpy(), atol=1e-5)
    assert out.column("semdedup_cluster").equals(ref.column("semdedup_cluster"))


def test_bad_config_names_stage_and_key():
    with pytest.raises(ValueError, match="d4: r_proto"):
        D4Prune(r_proto=0.0)
    with pytest.raises(ValueError, match="semdedup.*key 'which_to_keep'.*'hard'"):
        configured(SemDeDup, which_to_keep="oldest")
    with pytest.raises(ValueError, match="semdedup.*key 'pooling'.*'mean'"):
        configured(SemDeDup, pooling="max")


def test_pipeline_runs_semdedup_then_d4_reusing_embeddings(client, embedded, tmp_path):
    import pyarrow.parquet as pq

    from datamill.pipeline.io import read_stage
    from datamill.pipeline.runner import run_pipeline

    pq.write_table(embedded.slice(0, 400), tmp_path / "docs.parquet")
    config = {
        "name": "d4", "output": str(tmp_path / "run"),
        "sources": {"docs": {"format": "parquet", "path": str(tmp_path / "docs.parquet")}},
        "stages": [{"use": "semdedup", "eps": 0.14, "mode": "annotate", **EMBED},
                   {"use": "d4", "r_dedup": 0.8, "r_proto": 0.75, **EMBED}],
        "execution": {"partition_rows": 150},
    }
    stats = run_pipeline(config, client=client, progress=False).stats
    assert stats["semdedup"]["rows_out"] == 400 and stats["semdedup"]["flagged"]["semdedup"] >= 1
    d4 = stats["d4"]
    assert d4["removed"] == {"semdedup": 80, "ssl_prototype": 80} and d4["rows_out"] == 240
    assert d4["extra"]["kept_fraction"] == pytest.approx(0.6)
    out = read_stage(str(tmp_path / "run"), "d4")
    assert {"embedding", "semdedup_max_sim", "d4_cluster", "d4_proto_dist"} <= set(out.column_names)
    assert out.column("d4_proto_dist").null_count == 0


def test_empty_partitions_and_tiny_inputs(client):
    from datamill.stages.semantic.encoders import to_arrow

    def table(n: int, start: int = 0) -> pa.Table:
        x = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return pa.table({"id": pa.array([f"r{start + i}" for i in range(n)], pa.string()),
                         "text": pa.array([""] * n, pa.string()),
                         "embedding": to_arrow(x) if n else pa.array([], pa.list_(pa.float32(), 8))})

    out, stats = run(client, D4Prune(), [table(0)])
    assert out.num_rows == 0 and stats["kept_fraction"] == 1.0
    out, stats = run(client, D4Prune(), [table(1)])
    assert out.column("_removal_reason").to_pylist() == [None]  # a singleton is never pruned
    out, stats = run(client, D4Prune(r_dedup=0.8, r_proto=0.75), [table(3), table(0, 10), table(2, 20)])
    assert collections.Counter(out.column("_removal_reason").to_pylist()) == {None: 3, "semdedup": 1,
                                                                          "ssl_prototype": 1}
