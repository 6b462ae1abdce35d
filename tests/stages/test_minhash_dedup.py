import json
from itertools import combinations

import numpy as np
import pyarrow as pa
import pytest

from datamill.stage import REMOVAL_REASON
from datamill.stages.minhash import lsh, signatures as mh
from datamill.stages.minhash.minhash_dedup import MinHashDedup
from tests.conftest import configured


def _words(shared_data):
    with open(shared_data / "squality" / "v1-3_txt_dev.jsonl") as f:
        return " ".join(json.loads(line)["document"] for line in f).split()


def _mutate(words, rate, rng):
    out = list(words)
    for i in rng.choice(len(out), max(1, int(rate * len(out))), replace=False):
        out[i] = f"zz{rng.integers(1 << 30)}"
    return out


@pytest.fixture(scope="module")
def corpus(shared_data):
    """120 distinct 250-word windows of real prose, 30 near-copies (one word replaced: Jaccard
    ~0.96), one copy of a copy, 5 exact copies, 5 graded copies (Jaccard ~0.8 to ~0.3)."""
    words, rng = _words(shared_data), np.random.default_rng(1)
    base = [words[i * 260:i * 260 + 250] for i in range(120)]
    docs = {f"b{i:03d}": " ".join(w) for i, w in enumerate(base)}
    for k in range(30):
        docs[f"n{k:03d}"] = " ".join(_mutate(base[k], 0.004, rng))
    docs["n100"] = " ".join(_mutate(docs["n000"].split(), 0.004, rng))  # copy of a copy
    for k in range(5):
        docs[f"x{k:03d}"] = docs[f"b{50 + k:03d}"]
    for k, rate in enumerate([0.04, 0.06, 0.08, 0.12, 0.2]):  # graded: Jaccard ~0.8 down to ~0.3
        docs[f"g{k:03d}"] = " ".join(_mutate(base[60 + k], rate, rng))
    ids = sorted(docs)
    rng.shuffle(ids)
    return pa.table({"id": ids, "text": [docs[i] for i in ids], "score": rng.random(len(ids))})


def _parts(table, n):
    """``n`` partitions as copies: dask's tokenize hashes a slice like its parent table, so
    scattering zero-copy slices would hand the same data to every partition."""
    size = -(-table.num_rows // n)
    return [table.take(np.arange(i * size, min((i + 1) * size, table.num_rows))) for i in range(n)]


def _run(client, stage, table, n=2, tmp_path=""):
    """The stage's plan on ``n`` partitions (no stage dir unless ``tmp_path``: no .datamill/clusters files)."""
    from datamill.partitions import Partitions, PlanContext

    parts = Partitions(client, client.scatter(_parts(table, n), hash=False))
    ctx = PlanContext(stage_name="near", stage_dir=str(tmp_path), client=client)
    return pa.concat_tables(stage.plan(ctx, parts).gather()).sort_by("id")


def test_drop_mode_removes_planted_near_duplicates_and_keeps_the_smallest_id(client, corpus, tmp_path):
    from datamill.stages.minhash.minhash_dedup import cluster_members

    out = _run(client, MinHashDedup(), corpus, n=3, tmp_path=tmp_path / "near")
    removed = set(pc_filter(out, out.column(REMOVAL_REASON).is_valid()).column("id").to_pylist())
    planted = {f"n{k:03d}" for k in range(30)} | {"n100"} | {f"x{k:03d}" for k in range(5)}
    assert planted <= removed  # "b..." sorts before "n..."/"x...", so the originals are kept
    assert not any(i.startswith("b") for i in removed)
    assert set(out.column(REMOVAL_REASON).drop_null().to_pylist()) == {"minhash_duplicate"}
    cluster = dict(zip(out.column("id").to_pylist(), out.column("minhash_cluster").to_pylist()))
    assert cluster["n100"] == cluster["n000"] == "b000"  # the chain is one component
    assert cluster["b007"] == "b007" and out.num_rows == corpus.num_rows
    members = cluster_members(str(tmp_path), "near", "b000")  # what `datamill show --cluster` lists
    assert members.column("id").to_pylist() == ["b000", "n000", "n100"]
    assert members.column("is_duplicate").to_pylist() == [False, True, True]


def pc_filter(table, mask):
    return table.filter(mask)


def test_annotate_mode_marks_one_keeper_per_cluster(client, corpus):
    out = _run(client, MinHashDedup(mode="annotate", keep="score"), corpus)
    rows = out.select(["id", "minhash_cluster", "is_duplicate", "score"]).to_pylist()
    by_cluster = {}
    for r in rows:
        by_cluster.setdefault(r["minhash_cluster"], []).append(r)
    multi = [m for m in by_cluster.values() if len(m) > 1]
    assert len(multi) >= 35
    for members in multi:
        keeper = [m for m in members if not m["is_duplicate"]]
        assert len(keeper) == 1 and keeper[0]["id"] == members[0]["minhash_cluster"]
        assert keeper[0]["score"] == max(m["score"] for m in members)  # keep: highest score


def test_keep_longest_prefers_the_longer_document(client):
    table = pa.table({"id": ["a", "b", "c"], "text": ["one two three four five six seven",
                                                      "one two three four five six seven eight",
                                                      "something else entirely here now"]})
    out = _run(client, MinHashDedup(keep="longest", bands=8, rows=2, num_perm=16), table, n=1)
    assert out.column("is_duplicate").to_pylist() == [True, False, False]
    assert out.column("minhash_cluster").to_pylist() == ["b", "b", "c"]


@pytest.mark.parametrize("stage", [
    MinHashDedup(),
    MinHashDedup(local_components_max_edges=0, keep="longest"),  # distributed components
    MinHashDedup(verify=True, threshold=0.7, preset="fineweb"),
], ids=["local", "distributed", "verify"])
def test_output_is_identical_for_1_2_and_8_partitions(client, corpus, stage, tmp_path):
    from tests.conftest import run_plan

    outs = [pa.concat_tables(run_plan(client, stage, _parts(corpus, n), tmp_path=tmp_path / str(n))).sort_by("id")
            for n in (1, 2, 8)]
    assert outs[0].column("is_duplicate").to_numpy(zero_copy_only=False).sum() >= 30
    for other in outs[1:]:
        assert other.equals(outs[0])


def test_lsh_catches_every_pair_the_s_curve_promises(client, corpus):
    """All-pairs brute force: each pair with P(candidate | exact Jaccard) >= 0.99 shares a cluster."""
    stage = MinHashDedup(mode="annotate", threshold=0.7)
    _, b, r = stage.lsh_params()
    out = _run(client, stage, corpus)
    sets = [set(s) for s in mh.shingles(out.column("text"))]
    cluster = out.column("minhash_cluster").to_pylist()
    promised = 0
    for i, j in combinations(range(len(sets)), 2):
        jac = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
        if 1 - (1 - jac ** r) ** b >= 0.99:
            promised += 1
            assert cluster[i] == cluster[j], (out.column("id")[i], out.column("id")[j], jac)
    assert promised >= 36


def test_verification_drops_candidates_below_threshold_and_reports_fp_rate(client, corpus, tmp_path):
    from datamill.partitions import Partitions, PlanContext

    # 40 bands x 2 rows flags pairs at Jaccard ~0.3; verification at 0.85 must undo that.
    stage = MinHashDedup(bands=40, rows=2, num_perm=80, verify=True, threshold=0.85, mode="annotate")
    parts = Partitions(client, client.scatter(_parts(corpus, 2)))
    ctx = PlanContext(stage_name="near", stage_dir=str(tmp_path), client=client)
    out = pa.concat_tables(stage.plan(ctx, parts).gather()).sort_by("id")
    cluster = dict(zip(out.column("id").to_pylist(), out.column("minhash_cluster").to_pylist()))
    assert cluster["g004"] == "g004" and cluster["g003"] == "g003"  # Jaccard < 0.5: not merged
    assert cluster["n001"] == "b001" and cluster["x000"] == "b050"
    stats = {k: v.result() if hasattr(v, "result") else v for k, v in ctx.extra_stats.items()}
    ver = stats["verification"]
    assert ver["candidate_edges"] > ver["verified_edges"] > 0 and 0 < ver["false_positive_rate"] < 1
    assert stats["clusters"]["duplicates"] == out.column("is_duplicate").to_numpy(zero_copy_only=False).sum()
    assert stats["lsh"]["bands"] == 40 and stats["documents"] == corpus.num_rows


def test_large_small_star_matches_scipy_components():
    rng = np.random.default_rng(0)
    u = np.concatenate([np.arange(0, 300), rng.integers(1000, 1400, 300)]).astype(np.uint64)
    v = np.concatenate([np.arange(1, 301), rng.integers(1000, 1400, 300)]).astype(np.uint64)
    perm = rng.permutation(1400).astype(np.uint64) * np.uint64(7919)  # scramble the node order
    edges = lsh.unique_edges(perm[u.astype(np.int64)], perm[v.astype(np.int64)])
    ref_nodes, ref_labels = lsh.local_components(edges)
    n_parts, rounds = 3, 0
    parts = [tuple(a[i::n_parts] for a in edges) for i in range(n_parts)]
    while True:
        rounds += 1
        splits = [lsh.split_large_star(p, n_parts) for p in parts]
        large = [lsh.large_star([s[j] for s in splits]) for j in range(n_parts)]
        splits = [lsh.split_small_star(e, n_parts) for e, _ in large]
        small = [lsh.small_star([s[j] for s in splits]) for j in range(n_parts)]
        parts = [e for e, _ in small]
        if sum(c for _, c in large) + sum(c for _, c in small) == 0:
            break
    nodes, labels = lsh.star_labels(lsh.concat(parts))
    got = dict(zip(nodes.tolist(), labels.tolist()))
    assert got == dict(zip(ref_nodes.tolist(), ref_labels.tolist()))
    assert 2 < rounds < 30  # a 300-node path needs several rounds, but O(log^2 n)


def test_presets_and_datasketch_parameter_search():
    assert MinHashDedup(preset="fineweb").lsh_params() == (112, 14, 8)
    assert MinHashDedup(preset="lee").lsh_params() == (9000, 450, 20)
    assert MinHashDedup(threshold=0.8).lsh_params() == (128, 9, 13)  # datasketch's own search: docs/METHODS.md, "LSH banding"
    assert MinHashDedup(threshold=0.7).lsh_params() == (128, 14, 9)
    assert MinHashDedup(threshold=0.85, num_perm=256).lsh_params() == (256, 13, 19)
    curve = lsh.s_curve(14, 8)
    assert curve["0.80"] == pytest.approx(0.924, abs=1e-3) and curve["0.70"] == pytest.approx(0.56, abs=0.01)


@pytest.mark.parametrize("kwargs,match", [
    ({"preset": "pile"}, "preset"), ({"shingle": "line"}, "shingle"), ({"mode": "remove"}, "mode"),
    ({"bands": 4}, "bands and rows"), ({"bands": 20, "rows": 10}, "num_perm"),
    ({"preset": "fineweb", "bands": 2, "rows": 2}, "preset"), ({"preset": "lee", "num_perm": 256}, "preset"),
    ({"threshold": 1.5}, "threshold"), ({"device": "tpu"}, "device"),
])
def test_bad_config_names_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        configured(MinHashDedup, **kwargs)


def test_bad_keep_column_is_reported(client, corpus):
    with pytest.raises(Exception, match="keep='quality'"):
        _run(client, MinHashDedup(keep="quality"), corpus)


def _never_loaded():
    raise AssertionError("per_index loaded a partition")


def test_per_index_cuts_a_value_per_partition_without_loading_partitions(client):
    from datamill.partitions import Lazy, Partitions, Value

    parts = Partitions(client, client.scatter([Lazy(_never_loaded) for _ in range(3)], hash=False))
    value = Value(client, client.submit(lambda: [10, 20, 30], pure=False))
    assert parts.per_index(lambda i, v: v[i] + i, value).gather() == [10, 21, 32]
