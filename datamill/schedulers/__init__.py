"""Schedulers that steer training with the data pipeline's scores: a curriculum over a
per-document difficulty, dynamic domain weights, batch-size schedules, and ``Schedulers``, which
composes them behind the shard loader's and the trainer's hooks."""

from datamill.schedulers.batch_size import LinearRamp, NormTest
from datamill.schedulers.compose import Schedulers
from datamill.schedulers.curriculum import Curriculum
from datamill.schedulers.domain_weights import DomainWeights
from datamill.schedulers.pacing import Pacing

__all__ = ["Curriculum", "DomainWeights", "LinearRamp", "NormTest", "Pacing", "Schedulers"]
