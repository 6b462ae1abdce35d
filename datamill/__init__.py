"""datamill: raw text corpora -> curated, sharded training data on Dask, and a small trainer."""

__version__ = "0.1.0"
