"""Turn an LLM's free-text reply into a number or a label.

The prompt asks the model to end with a fixed phrase ("Educational score: 3"); ``pattern`` is a
regular expression whose first group captures the value after it. The last match wins: a model
that restates the rubric ("... format: 'Educational score: <total points>'") before answering is
still read correctly. A reply with no match, a value outside the range or a label not in the
list is a failure (``None``), never a guess.
"""

from __future__ import annotations

import re


def compile_pattern(pattern: str, stage: str) -> re.Pattern:
    """The pattern, checked to have a capture group (a config error otherwise)."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ValueError(f"stage {stage}: pattern {pattern!r} is not a regular expression: {e}") from None
    if compiled.groups < 1:
        raise ValueError(f"stage {stage}: pattern {pattern!r} needs a capture group around the value")
    return compiled


def last_capture(pattern: re.Pattern, reply: str | None) -> str | None:
    if not reply:
        return None
    matches = list(pattern.finditer(reply))
    return matches[-1].group(1).strip() if matches else None


def parse_number(reply: str | None, pattern: re.Pattern, low: float, high: float) -> float | None:
    """The captured number if it lies in [low, high], else None."""
    value = last_capture(pattern, reply)
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and low <= number <= high else None


def parse_label(reply: str | None, pattern: re.Pattern, labels: tuple[str, ...]) -> int | None:
    """The index in ``labels`` of the captured label (case and surrounding punctuation ignored)."""
    value = last_capture(pattern, reply)
    if value is None:
        return None
    wanted = value.strip(" \t\"'`*.,;:!").lower()
    return next((i for i, label in enumerate(labels) if label.lower() == wanted), None)
