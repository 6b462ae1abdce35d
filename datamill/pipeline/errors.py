"""``StageError``: a run-time failure, named by stage (and partition), that the CLI prints as one line.

Raised inside task bodies on workers and re-raised on the driver, so it pickles by its fields.
It is deterministic by construction (a stage's code failed on its input), hence never retried;
a worker process that dies is a different failure, recovered by Dask's scheduler.
"""

from __future__ import annotations


class StageError(RuntimeError):
    def __init__(self, stage: str, partition: int | None, message: str):
        self.stage, self.partition, self.message = stage, partition, message
        where = f"stage {stage!r}" + (f" partition {partition}" if partition is not None else "")
        super().__init__(f"{where}: {message}")

    def __reduce__(self):
        return StageError, (self.stage, self.partition, self.message)

    @classmethod
    def wrap(cls, stage: str, partition: int | None, error: BaseException) -> StageError:
        """``error`` as a StageError (one already is one, e.g. from a nested call, stays as it is)."""
        if isinstance(error, StageError):
            return error
        return cls(stage, partition, f"{type(error).__name__}: {error}")
