"""Counts the reliability tests record (faults injected, bad inputs tried, rows lost, ...).

The reliability conftest writes them to ``test-artifacts/reliability-figures.json`` at the end
of a session; docs/RELIABILITY.md quotes that file.
"""

from __future__ import annotations

import json
from pathlib import Path

FIGURES: dict[str, int] = {}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def record(key: str, n: int = 1) -> None:
    FIGURES[key] = FIGURES.get(key, 0) + n


def write() -> Path | None:
    if not FIGURES:
        return None
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "reliability-figures.json"
    path.write_text(json.dumps(dict(sorted(FIGURES.items())), indent=1) + "\n")
    return path
