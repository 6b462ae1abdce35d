"""``random_sample``: an exact, seeded, partition-invariant random fraction (D4's control arm)."""

import numpy as np
import pyarrow as pa
import pytest

from datamill.stage import REMOVAL_REASON
from datamill.stages.random_sample import RandomSample, sample_keys
from tests.conftest import configured, run_plan

N = 2000


def corpus() -> pa.Table:
    return pa.table({"id": [f"doc-{i:05d}" for i in range(N)], "text": [f"text {i}" for i in range(N)]})


def kept_ids(parts: list[pa.Table]) -> list[str]:
    out = pa.concat_tables(parts)
    return sorted(i for i, r in zip(out.column("id").to_pylist(), out.column(REMOVAL_REASON).to_pylist()) if r is None)


def split(table: pa.Table, n: int) -> list[pa.Table]:
    size = -(-table.num_rows // n)
    return [table.slice(i, size) for i in range(0, table.num_rows, size)]


def test_exact_fraction_partition_invariant_and_seeded(client):
    table = corpus()
    whole = kept_ids(run_plan(client, RandomSample(fraction=0.3, seed=1), [table]))
    assert len(whole) == round(0.3 * N)
    assert kept_ids(run_plan(client, RandomSample(fraction=0.3, seed=1), split(table, 7))) == whole
    other = kept_ids(run_plan(client, RandomSample(fraction=0.3, seed=2), [table]))
    assert len(other) == len(whole) and len(set(other) & set(whole)) < 0.5 * len(whole)  # ~0.3 expected


def test_selection_is_spread_not_a_prefix(client):
    """Not the first or last ids: each tenth of the id range keeps about the fraction."""
    kept = kept_ids(run_plan(client, RandomSample(fraction=0.25, seed=0), split(corpus(), 3)))
    per_tenth = np.bincount([int(i.split("-")[1]) * 10 // N for i in kept], minlength=10)
    assert per_tenth.min() >= 25 and per_tenth.max() <= 75  # 50 expected per tenth; binomial sd ~6


def test_keys_are_uniform_and_depend_on_the_seed():
    keys = sample_keys(corpus(), 0)
    assert keys.dtype == np.float32 and 0.0 <= keys.min() and keys.max() < 1.0
    assert np.histogram(keys, bins=4, range=(0, 1))[0].min() > 0.2 * N
    assert not np.array_equal(keys, sample_keys(corpus(), 1))


def test_edges_and_config_errors(client):
    table = corpus().slice(0, 50)
    assert kept_ids(run_plan(client, RandomSample(fraction=0.0), [table])) == []
    assert len(kept_ids(run_plan(client, RandomSample(fraction=1.0), [table]))) == 50
    with pytest.raises(ValueError, match="fraction"):
        configured(RandomSample, fraction=1.5)
