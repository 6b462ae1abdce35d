"""minhash_dedup end to end through run_pipeline: partition counts and cluster kinds agree."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamill.pipeline.io import read_rejected, read_stage
from datamill.pipeline.runner import run_pipeline
from tests.stages.test_minhash_dedup import corpus  # noqa: F401  (module-scoped fixture)


def _config(data, out, partition_rows, **stage):
    return {"name": "near", "sources": {"docs": {"format": "parquet", "path": str(data)}},
            "stages": {"near": {"use": "minhash_dedup", "input": "docs", **stage}},
            "output": str(out), "execution": {"partition_rows": partition_rows}}


def _digest(table: pa.Table) -> list:
    return table.select(["id", "minhash_cluster", "is_duplicate"]).sort_by("id").to_pylist()


@pytest.mark.slow
def test_pipeline_output_is_the_same_for_partitions_and_a_multiprocess_cluster(corpus, client, tmp_path):  # noqa: F811
    from distributed import Client, LocalCluster

    data = tmp_path / "docs.parquet"
    pq.write_table(corpus.select(["id", "text"]), data)
    result = run_pipeline(_config(data, tmp_path / "one", 10_000), client=client, progress=False)
    one = read_stage(str(tmp_path / "one"), "near")
    stats = result.stats["near"]
    assert one.num_rows == corpus.num_rows - stats["extra"]["clusters"]["duplicates"]
    assert stats["extra"]["clusters"]["duplicates"] >= 36 and not one.column("is_duplicate").to_numpy().any()
    rejected = read_rejected(str(tmp_path / "one"), "near")
    assert set(rejected.column("minhash_cluster").to_pylist()) <= set(one.column("id").to_pylist())

    run_pipeline(_config(data, tmp_path / "many", 41), client=client, progress=False)
    assert _digest(read_stage(str(tmp_path / "many"), "near")) == _digest(one)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            Client(cl) as procs:
        run_pipeline(_config(data, tmp_path / "procs", 41, local_components_max_edges=0), client=procs,
                     progress=False)
    assert _digest(read_stage(str(tmp_path / "procs"), "near")) == _digest(one)


def test_pipeline_annotate_mode_keeps_every_row(corpus, client, tmp_path):  # noqa: F811
    data = tmp_path / "docs.parquet"
    pq.write_table(corpus.select(["id", "text"]), data)
    run_pipeline(_config(data, tmp_path / "run", 50, mode="annotate", preset="fineweb"), client=client,
                 progress=False)
    out = read_stage(str(tmp_path / "run"), "near")
    assert out.num_rows == corpus.num_rows
    dup = out.column("is_duplicate").to_numpy(zero_copy_only=False)
    assert 36 <= dup.sum() < 50
    kept_clusters = set(np.array(out.column("minhash_cluster").to_pylist())[~dup])
    assert set(np.array(out.column("minhash_cluster").to_pylist())[dup]) <= kept_clusters
