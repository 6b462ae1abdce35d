"""One sampler object for the shard loader and the trainer: a curriculum, dynamic domain weights
and a batch-size schedule together, each optional.

Hooks (all that the loader and the trainer look for):
- loader: ``weights(step)`` (None: the loader's own mixture) and ``doc_probabilities(source,
  index, step)`` (None: the loader's own window order), called with the loader's step, which
  counts micro-batches;
- trainer: ``grad_accum(step)`` (only present with a batch-size schedule; optimizer steps),
  ``on_eval(step, val_losses)`` (alias ``update``), ``attach(model)`` (the norm test's gradient
  hooks), ``metrics(step)`` (numbers worth logging);
- both: ``state_dict()`` / ``load_state_dict()``, saved with the trainer's checkpoints.

Built from the trainer config's ``data.sampler``:

    sampler:
      class: "datamill.schedulers:Schedulers"
      curriculum: {column: length, pacing: root, length: 2000}
      domain_weights: {reference: {web: 3.1, stories: 3.4, docs: 2.8}}
      batch_size: {kind: norm_test, eta: 0.1, start: 2, max_accum: 32}
"""

from __future__ import annotations

import dataclasses

from datamill.schedulers.batch_size import LinearRamp, NormTest
from datamill.schedulers.curriculum import Curriculum
from datamill.schedulers.domain_weights import DomainWeights

BATCH_KINDS = {"linear_ramp": LinearRamp, "norm_test": NormTest}


def _build(spec, cls, section: str):
    if spec is None or isinstance(spec, cls):
        return spec
    if not isinstance(spec, dict):
        raise ValueError(f"sampler.{section}: expected a mapping or a {cls.__name__}, got {type(spec).__name__}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(spec) - names)
    if unknown:
        raise ValueError(f"sampler.{section}: unknown key(s) {unknown}; expected some of {sorted(names)}")
    try:
        return cls(**spec)
    except TypeError as e:  # a missing required key
        raise ValueError(f"sampler.{section}: {e}") from None


class Schedulers:
    def __init__(self, curriculum: dict | Curriculum | None = None,
                 domain_weights: dict | DomainWeights | None = None,
                 batch_size: dict | LinearRamp | NormTest | None = None):
        self.curriculum = _build(curriculum, Curriculum, "curriculum")
        self.domain_weights = _build(domain_weights, DomainWeights, "domain_weights")
        if isinstance(batch_size, dict):
            spec = dict(batch_size)
            kind = spec.pop("kind", None)
            if kind not in BATCH_KINDS:
                raise ValueError(f"sampler.batch_size.kind: expected one of {sorted(BATCH_KINDS)}, got {kind!r}")
            batch_size = _build(spec, BATCH_KINDS[kind], "batch_size")
        self.batch_size = batch_size
        if batch_size is not None:  # the trainer falls back to data.grad_accum when this is absent
            self.grad_accum = batch_size.grad_accum

    def _parts(self) -> dict:
        return {k: v for k, v in (("curriculum", self.curriculum), ("domain_weights", self.domain_weights),
                                  ("batch_size", self.batch_size)) if v is not None}

    # -- loader hooks -----------------------------------------------------------------------------
    def weights(self, step: int) -> dict[str, float] | None:
        return self.domain_weights.weights(step) if self.domain_weights is not None else None

    def doc_probabilities(self, source: str, index, step: int):
        return self.curriculum.doc_probabilities(source, index, step) if self.curriculum is not None else None

    # -- trainer hooks ----------------------------------------------------------------------------
    def on_eval(self, step: int, losses: dict[str, float]) -> None:
        if self.domain_weights is not None:
            self.domain_weights.on_eval(step, losses)

    update = on_eval

    def attach(self, model) -> None:
        if hasattr(self.batch_size, "attach"):
            self.batch_size.attach(model)

    def metrics(self, step: int) -> dict:
        out = {}
        for part in self._parts().values():
            out.update(part.metrics(step))
        return out

    # -- resume -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {k: v.state_dict() for k, v in self._parts().items()}

    def load_state_dict(self, state: dict) -> None:
        parts = self._parts()
        if set(state) != set(parts):
            raise ValueError(f"sampler: the checkpoint has schedulers {sorted(state)}, the config {sorted(parts)}")
        for k, v in parts.items():
            v.load_state_dict(state[k])
