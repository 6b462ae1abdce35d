"""A deterministic stand-in for ``datamill.train.data.ShardLoader`` (same interface), so trainer
tests do not depend on the shard format: documents from a sparse per-source Markov chain, each
with a 3-token "metadata prefix" (loss-masked; left out when strip_metadata is on), packed into
windows with per-position document ids."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np


@dataclass
class FakeBatch:
    input_ids: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    doc_ids: np.ndarray
    sources: list[str]


class FakeLoader:
    def __init__(self, *, seq_len: int = 32, batch_size: int = 4, seed: int = 0, split: str = "train",
                 vocab_size: int = 64, prefix_len: int = 3, sources=("a", "b"), doc_len=(8, 48)):
        self.seq_len, self.batch_size, self.vocab_size = seq_len, batch_size, vocab_size
        self.sources, self.eos_id, self.tokenizer_path = list(sources), 0, None
        self.prefix_len, self.doc_len = prefix_len, doc_len
        self.rng = np.random.default_rng([seed, split == "val"])
        self.strip, self.weights = False, {s: 1.0 for s in self.sources}
        # each token has 3 likely successors per source: learnable structure, entropy ~ln 3
        self.trans = {s: np.random.default_rng(100 + i).integers(4, vocab_size, size=(vocab_size, 3))
                      for i, s in enumerate(self.sources)}
        self.strip_calls: list[bool] = []
        self.batches_served = 0

    def _doc(self, src: str) -> tuple[list[int], list[int]]:
        n = int(self.rng.integers(*self.doc_len))
        body = [int(self.rng.integers(4, self.vocab_size))]
        for _ in range(n - 1):
            body.append(int(self.trans[src][body[-1], self.rng.integers(3)]))
        prefix = [] if self.strip else [1, 2, 3][: self.prefix_len]
        return prefix + body + [self.eos_id], [1] * len(prefix) + [0] * (len(body) + 1)

    def _row(self):
        w = np.array([self.weights[s] for s in self.sources], dtype=float)
        src = self.sources[int(self.rng.choice(len(self.sources), p=w / w.sum()))]
        toks, is_prefix, docs = [], [], []
        while len(toks) < self.seq_len + 1:
            t, p = self._doc(src)
            docs += [len(set(docs))] * len(t)
            toks += t
            is_prefix += p
        toks, is_prefix, docs = (np.array(a[: self.seq_len + 1]) for a in (toks, is_prefix, docs))
        return toks[:-1], toks[1:], (1 - is_prefix[1:]).astype(np.float32), docs[:-1].astype(np.int32), src

    def next_batch(self) -> FakeBatch:
        rows = [self._row() for _ in range(self.batch_size)]
        self.batches_served += 1
        return FakeBatch(np.stack([r[0] for r in rows]).astype(np.int64), np.stack([r[1] for r in rows]).astype(np.int64),
                         np.stack([r[2] for r in rows]), np.stack([r[3] for r in rows]), [r[4] for r in rows])

    def set_strip_metadata(self, on: bool) -> None:
        self.strip = bool(on)
        self.strip_calls.append(self.strip)

    def set_weights(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)

    def set_batch_size(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "strip": self.strip, "weights": dict(self.weights),
                "batch_size": self.batch_size}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.strip, self.weights, self.batch_size = state["strip"], dict(state["weights"]), state["batch_size"]


def tiny_config(out_dir, **overrides):
    """A 2-layer, d=32 model trained for 20 steps on FakeLoader-shaped data."""
    from datamill.train.config import load_config

    raw = {
        "out_dir": str(out_dir), "seed": 0, "device": "cpu", "steps": 20, "log_interval": 1,
        "eval_interval": 10, "export_hf": False,
        "model": {"n_layer": 2, "n_head": 4, "n_kv_head": 2, "d_model": 32, "pad_vocab_multiple": 1},
        "data": {"seq_len": 32, "batch_size": 4, "val_batches": 2},
        "optim": {"lr": 3e-3, "warmup_steps": 2, "schedule": "cosine"},
    }
    return load_config(raw, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])


def loaders(cfg, seed: int = 0, **kw):
    d = cfg.data
    return dict(loader=FakeLoader(seq_len=d.seq_len, batch_size=d.batch_size, seed=seed, **kw),
                val_loader=FakeLoader(seq_len=d.seq_len, batch_size=d.batch_size, seed=seed, split="val", **kw))
