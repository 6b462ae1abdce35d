"""Columns are checked when a config loads: a stage that needs a column nothing upstream writes
is a config error naming the stage, the column and which stages write it."""

import pytest

from datamill.pipeline.config import load_config
from datamill.typed_config import ConfigError


def config(stages, fmt="python_docs"):
    source = {"format": fmt} if fmt == "python_docs" else {"format": fmt, "path": "/nonexistent/*.parquet"}
    return {"sources": {"d": source}, "stages": stages}


def test_keep_column_written_by_no_upstream_stage_is_a_config_error():
    with pytest.raises(ConfigError, match=r"stage 'near'.*column 'quality_score'.*no source or stage writes it"):
        load_config(config([{"use": "minhash_dedup", "name": "near", "keep": "quality_score"}]))


def test_column_written_downstream_names_the_writer():
    stages = [{"use": "minhash_dedup", "name": "near", "keep": "num_words"},
              {"use": "length_filter", "name": "length"}]
    with pytest.raises(ConfigError, match=r"stage 'near'.*'num_words': written by 'length', not upstream of it"):
        load_config(config(stages))


def test_columns_written_upstream_or_by_sources_pass():
    load_config(config([{"use": "length_filter"}, {"use": "minhash_dedup", "keep": "num_words"},
                        {"use": "metadata_prefix"}, {"use": "token_shards"}]))


def test_a_parquet_source_may_carry_any_column():
    load_config(config([{"use": "minhash_dedup", "keep": "quality_score"}], fmt="parquet"))
