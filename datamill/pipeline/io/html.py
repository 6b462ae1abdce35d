"""HTML -> main text with trafilatura (a maintained boilerplate remover)."""

from __future__ import annotations

import logging

logging.getLogger("trafilatura").setLevel(logging.ERROR)


def html_to_text(html: str | bytes, url: str | None = None) -> str:
    """Main text of a page ('' when nothing survives extraction)."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True,
                               favor_precision=False, deduplicate=False)
    return text or ""
