"""``datamill report``: one self-contained HTML page (no network, no external script) for a run.

The DAG, documents/words (and tokens) through it, rows per source, and per stage: the columns
it wrote as histograms (kept against removed, thresholds drawn), dedup cluster sizes, removed
duplicates beside their kept twin, and samples of removed documents. Charts are inline SVG;
the only script toggles sample panels.
"""

from datamill.report.page import render, write_report

__all__ = ["render", "write_report"]
