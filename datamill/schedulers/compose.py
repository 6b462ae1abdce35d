"""``Schedulers``: the one sampler object the shard loader and the trainer call, composing a
curriculum, dynamic domain weights and a batch-size schedule, each optional. Every hook is
always there; a part left out makes its hooks answer "no change":

- loader: ``weights(step)`` (None: the loader's own mixture) and ``doc_probabilities(source,
  index, step)`` (None: the loader's own window order), called with the loader's step, which
  counts micro-batches;
- trainer: ``grad_accum(step)`` (optimizer steps; without a batch-size schedule, the fixed
  ``data.grad_accum``), ``on_eval(step, val_losses)``, ``attach(model)`` (the norm test's
  gradient hooks), ``metrics(step)`` (numbers worth logging);
- ``state_dict()`` / ``load_state_dict()``, saved once per rank in the trainer's checkpoints.

Built from the trainer config's ``data.sampler``:

    sampler:
      curriculum: {column: length, pacing: root, length: 2000}
      domain_weights: {reference: {web: 3.1, stories: 3.4, docs: 2.8}}
      batch_size: {kind: norm_test, eta: 0.1, start: 2, max_accum: 32}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from datamill.schedulers.batch_size import LinearRamp, LinearRampConfig, NormTest, NormTestConfig
from datamill.schedulers.curriculum import Curriculum, CurriculumConfig
from datamill.schedulers.domain_weights import DomainWeights, DomainWeightsConfig


@dataclass
class SamplerConfig:
    """``data.sampler``: every part optional."""

    curriculum: CurriculumConfig | None = None
    domain_weights: DomainWeightsConfig | None = None
    batch_size: LinearRampConfig | NormTestConfig | None = None  # picked by its `kind`


_RUNTIME = {CurriculumConfig: Curriculum, DomainWeightsConfig: DomainWeights, LinearRampConfig: LinearRamp,
            NormTestConfig: NormTest}


class Schedulers:
    def __init__(self, curriculum: Curriculum | None = None, domain_weights: DomainWeights | None = None,
                 batch_size: LinearRamp | NormTest | None = None, *, grad_accum: int = 1):
        if grad_accum < 1:
            raise ValueError(f"data.grad_accum: must be >= 1, got {grad_accum}")
        self.curriculum, self.domain_weights, self.batch_size = curriculum, domain_weights, batch_size
        self.fixed_accum = grad_accum  # micro-batches per step without a batch-size schedule

    @classmethod
    def from_config(cls, cfg: SamplerConfig, *, grad_accum: int = 1) -> Schedulers:
        """The schedulers ``cfg`` describes (reading reference runs and score tables now)."""
        def make(part):
            return None if part is None else _RUNTIME[type(part)](**asdict(part))

        return cls(make(cfg.curriculum), make(cfg.domain_weights), make(cfg.batch_size), grad_accum=grad_accum)

    def _parts(self) -> dict:
        return {k: v for k, v in (("curriculum", self.curriculum), ("domain_weights", self.domain_weights),
                                  ("batch_size", self.batch_size)) if v is not None}

    # -- loader hooks -----------------------------------------------------------------------------
    def weights(self, step: int) -> dict[str, float] | None:
        return self.domain_weights.weights(step) if self.domain_weights is not None else None

    def doc_probabilities(self, source: str, index, step: int):
        return self.curriculum.doc_probabilities(source, index, step) if self.curriculum is not None else None

    # -- trainer hooks ----------------------------------------------------------------------------
    def grad_accum(self, step: int) -> int:
        return self.batch_size.grad_accum(step) if self.batch_size is not None else self.fixed_accum

    def on_eval(self, step: int, losses: dict[str, float]) -> None:
        if self.domain_weights is not None:
            self.domain_weights.on_eval(step, losses)

    def attach(self, model) -> None:
        if isinstance(self.batch_size, NormTest):  # the only part that reads gradients
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
