"""Dynamic domain weights: Sheared LLaMA's dynamic batch loading (Xia et al. 2023, arXiv
2310.06694; ``llmshearing/callbacks/dynamic_loading_callback.py``) with DoReMi's update
(Xie et al. 2023, arXiv 2305.10429). docs/METHODS.md §5.1–5.2.

After an evaluation with per-source validation losses l (at most once every ``every`` steps):
    diff = l - l_ref                         (clip: max(diff, 0), as in the paper's Algorithm 1)
    a    = softmax(log w + eta * diff)       (update_type "doremi"; "bandit": softmax(w + eta * diff))
    w    = (1 - c) a + c / k                 (smoothing c: every source keeps at least c/k)
A source missing from an evaluation reuses its last excess (DoReMi). The released Sheared LLaMA
code does not clip, so a source below its reference is actively down-weighted; ``clip`` is off
by default for that reason and on for the paper's variant. Reference losses are given per
source, or read from a reference run (the last per-source validation losses in its
``metrics.jsonl``). Every update is kept in ``history`` (saved with checkpoints); ``average()``
is DoReMi's output mixture, the mean of the weights over all updates.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from datamill.typed_config import FilePath

log = logging.getLogger(__name__)
UPDATES = ("doremi", "bandit", "constant")


def reference_losses(source: dict | str) -> dict[str, float]:
    """Per-source reference losses: a mapping, or a run dir / ``metrics.jsonl`` of a reference
    run (its last row with ``val_loss/<source>`` keys)."""
    if isinstance(source, dict):
        if not source:
            raise ValueError("domain_weights.reference: empty mapping (one loss per source expected)")
        return {str(k): float(v) for k, v in source.items()}
    path = Path(source)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise ValueError(f"domain_weights.reference: {source} is neither a mapping nor a run dir / metrics.jsonl")
    last = {}
    for line in path.read_text().splitlines():
        row = json.loads(line) if line.strip() else {}
        found = {k.split("/", 1)[1]: float(v) for k, v in row.items() if k.startswith("val_loss/")}
        if found:
            last = found
    if not last:
        raise ValueError(f"domain_weights.reference: {path} has no per-source validation losses (val_loss/<source>)")
    return last


def update_weights(w: np.ndarray, diff: np.ndarray, *, eta: float, smoothing: float, clip: bool,
                   kind: str = "doremi") -> np.ndarray:
    """One update of the normalized weight vector ``w`` by the per-source excess loss ``diff``."""
    if clip:
        diff = np.maximum(diff, 0.0)
    if kind == "constant":
        return w.copy()
    logits = (np.log(np.maximum(w, 1e-300)) if kind == "doremi" else w) + eta * diff
    a = np.exp(logits - logits.max())
    a /= a.sum()
    out = (1 - smoothing) * a + smoothing / len(w)
    return out / out.sum()


@dataclass
class DomainWeightsConfig:
    """``data.sampler.domain_weights``: the mixture follows the per-source excess validation loss."""

    reference: dict[str, float] | FilePath  # per-source reference loss, or a reference run's dir / metrics.jsonl
    initial: dict[str, float] = field(default_factory=dict)  # starting mixture; empty: uniform over the sources
    eta: float = 1.0  # Sheared LLaMA and DoReMi: eta = 1
    smoothing: float = 1e-4  # c: Sheared LLaMA code "following DoReMi" (the DoReMi paper uses 1e-3)
    clip: bool = False  # Sheared LLaMA code: no clip; its Algorithm 1 and DoReMi: clip excess at 0
    update_type: Literal["doremi", "bandit", "constant"] = "doremi"  # Sheared LLaMA's callback
    every: int = 0  # m: update at an evaluation at least this many steps after the last one (0: every eval)
    history_path: FilePath = ""  # optional JSONL file, one line per update

    def __post_init__(self):
        if self.update_type not in UPDATES:
            raise ValueError(f"domain_weights.update_type: expected one of {', '.join(UPDATES)}, "
                             f"got {self.update_type!r}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"domain_weights.smoothing: expected a value in [0, 1), got {self.smoothing}")
        if self.eta < 0 or self.every < 0:
            raise ValueError(f"domain_weights: eta and every must be >= 0, got {self.eta}, {self.every}")


@dataclass
class DomainWeights(DomainWeightsConfig):
    """The loader's ``weights(step)`` hook, updated by ``on_eval(step, losses)``: the config plus
    the weights, the last excess per source and the update history."""

    def __post_init__(self):
        super().__post_init__()
        self.ref = reference_losses(self.reference)
        self.sources = sorted(self.ref)
        if self.initial:
            extra = set(self.initial) - set(self.sources)
            if extra:
                raise ValueError(f"domain_weights.initial: source(s) {sorted(extra)} have no reference loss "
                                 f"(reference sources: {self.sources})")
            w = np.array([float(self.initial.get(s, 0.0)) for s in self.sources])
            if (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"domain_weights.initial: weights must be >= 0 with a positive sum, got {self.initial}")
        else:
            w = np.ones(len(self.sources))
        self.w = w / w.sum()
        self.excess = np.zeros(len(self.sources))  # last excess loss per source
        self.last_update: int | None = None
        self.history: list[dict] = [{"step": 0, "weights": self.weights(0)}]

    def weights(self, step: int = 0) -> dict[str, float]:
        return {s: float(x) for s, x in zip(self.sources, self.w)}

    def on_eval(self, step: int, losses: dict[str, float]) -> bool:
        """Update from per-source validation losses; True when the weights were updated."""
        unknown = sorted(set(losses) - set(self.sources))
        if unknown:
            raise ValueError(f"domain_weights: validation losses for source(s) {unknown} that have no reference "
                             f"loss (reference sources: {self.sources})")
        if self.last_update is not None and step - self.last_update < self.every:
            return False
        for i, s in enumerate(self.sources):
            if s in losses and np.isfinite(losses[s]):
                self.excess[i] = float(losses[s]) - self.ref[s]
        self.w = update_weights(self.w, self.excess, eta=self.eta, smoothing=self.smoothing, clip=self.clip,
                                kind=self.update_type)
        self.last_update = step
        row = {"step": int(step), "weights": self.weights(step), "losses": {s: float(v) for s, v in losses.items()},
               "excess": {s: float(x) for s, x in zip(self.sources, self.excess)}}
        self.history.append(row)
        log.info("step %d: domain weights %s", step, " ".join(f"{s}={x:.3f}" for s, x in row["weights"].items()))
        if self.history_path:
            with open(self.history_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        return True

    def average(self) -> dict[str, float]:
        """DoReMi's output mixture: the mean of the weights over all updates (initial included)."""
        w = np.mean([[h["weights"][s] for s in self.sources] for h in self.history], axis=0)
        return {s: float(x) for s, x in zip(self.sources, w / w.sum())}

    def metrics(self, step: int) -> dict:
        return {f"weight/{s}": float(x) for s, x in zip(self.sources, self.w)}

    def state_dict(self) -> dict:
        return {"sources": self.sources, "weights": self.w.tolist(), "excess": self.excess.tolist(),
                "last_update": self.last_update, "history": self.history}

    def load_state_dict(self, state: dict) -> None:
        if state["sources"] != self.sources:
            raise ValueError(f"domain_weights: checkpoint has sources {state['sources']}, config has {self.sources}")
        self.w = np.array(state["weights"], np.float64)
        self.excess = np.array(state["excess"], np.float64)
        self.last_update = state["last_update"]
        self.history = [dict(h) for h in state["history"]]
        if self.history_path:  # forget lines written after the checkpoint; they will be written again
            Path(self.history_path).write_text("".join(json.dumps(h) + "\n" for h in self.history[1:]))
