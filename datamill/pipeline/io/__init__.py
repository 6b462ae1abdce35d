"""Readers and writers (fsspec paths): jsonl(.gz/.zst), parquet, text files, WARC, HF datasets."""
