"""Schedulers that steer training with the data pipeline's scores: a curriculum over a
per-document difficulty, dynamic domain weights, batch-size schedules, and ``Schedulers``, which
composes them behind the shard loader's and the trainer's hooks (``SamplerConfig`` is its config)."""

from datamill.schedulers.batch_size import LinearRamp, LinearRampConfig, NormTest, NormTestConfig
from datamill.schedulers.compose import SamplerConfig, Schedulers
from datamill.schedulers.curriculum import Curriculum, CurriculumConfig
from datamill.schedulers.domain_weights import DomainWeights, DomainWeightsConfig
from datamill.schedulers.pacing import Pacing

__all__ = ["Curriculum", "CurriculumConfig", "DomainWeights", "DomainWeightsConfig", "LinearRamp",
           "LinearRampConfig", "NormTest", "NormTestConfig", "Pacing", "SamplerConfig", "Schedulers"]
