"""``datamill ablate``: does the data make a better model? Arms (pipelines, overrides, or mixes of
existing shard sets) built through the cached engine, one proxy model trained per (arm, seed) on
exactly the same number of tokens, every checkpoint scored on the same held-out windows
(docs/ABLATIONS.md)."""
