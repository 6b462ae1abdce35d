"""Load a stage directory the way users do, with the five common Parquet readers."""

from __future__ import annotations

from pathlib import Path

READERS = ("pandas", "pyarrow", "polars", "duckdb", "datasets")


def load_ids(reader: str, stage_dir: Path, cache_dir: Path) -> tuple[list[str], list[str]]:
    """(sorted ids, column names) of a stage directory as ``reader`` loads it."""
    if reader == "pandas":
        import pandas as pd

        df = pd.read_parquet(stage_dir)
        return sorted(df["id"]), list(df.columns)
    if reader == "pyarrow":
        import pyarrow.dataset as ds

        t = ds.dataset(stage_dir).to_table()
        return sorted(t.column("id").to_pylist()), t.column_names
    if reader == "polars":
        import polars as pl

        df = pl.read_parquet(f"{stage_dir}/*.parquet")  # polars reads a directory only by glob
        return sorted(df["id"].to_list()), df.columns
    if reader == "duckdb":
        import duckdb

        rel = duckdb.sql(f"select * from read_parquet('{stage_dir}/*.parquet')")
        return sorted(r[rel.columns.index("id")] for r in rel.fetchall()), rel.columns
    if reader == "datasets":
        import datasets

        d = datasets.load_dataset("parquet", data_dir=str(stage_dir), split="train", cache_dir=str(cache_dir))
        return sorted(d["id"]), d.column_names
    raise ValueError(reader)
