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


def page_url(html: str | bytes) -> str | None:
    """The page's own URL from ``<link rel=canonical>`` or ``og:url``, else None (a saved file has
    no other trustworthy one: its path is where it was saved, not where it was served)."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):  # empty or not markup
        return None
    for href in tree.xpath("//link[@rel='canonical']/@href | //meta[@property='og:url']/@content"):
        if href.strip().startswith(("http://", "https://")):
            return href.strip()
    return None
