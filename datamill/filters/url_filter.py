"""``url_filter``: URL/domain blocklists and allowlists, and FineWeb's URL word rules.

FineWeb (Penedo et al. 2024) removed pages by URL with datatrove's ``URLFilter``: a domain
blocklist (UT1, the Université Toulouse 1 Capitole blacklists), banned words among the URL's
tokens, a count of "soft" banned words, and banned subwords in the URL with punctuation removed.
Here every list is a file named in the config (none is vendored), each rule has its own removal
reason, and a host on the allowlist is kept whatever the other rules say. Documents without a
usable URL are kept and counted in ``url_missing``. See docs/METHODS.md, "URL filter".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text
from datamill.filters._rules import column, first_reason
from datamill.filters._url_lists import host_list, lookup, parse, word_set
from datamill.stage import Filter, Mode, set_columns
from datamill.typed_config import FilePath

COLUMNS = ("url_missing", "url_allowlisted", "url_blocklist_match", "url_num_substrings",
           "url_num_banned_words", "url_num_soft_banned_words", "url_banned_subword")


@dataclass(frozen=True)
class URLFilter(Filter):
    """Remove documents by URL: domain/URL blocklists (UT1 layout), substrings and FineWeb's
    banned-word rules (datatrove ``URLFilter``, Penedo et al. 2024); the allowlist wins."""

    use: ClassVar[str] = "url_filter"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ()  # url_column is optional: rows without one are kept and counted
    writes: ClassVar[tuple[str, ...]] = COLUMNS

    blocklist: FilePath = ""  # domains file, or a UT1 directory (CATEGORY/domains, CATEGORY/urls) as FineWeb used; "" = off
    allowlist: FilePath = ""  # same formats; a listed host (or URL prefix) is kept whatever the other rules say; "" = off
    categories: tuple[str, ...] = ()  # UT1 categories of the blocklist directory to use (e.g. [adult]); empty = all
    url_substrings: tuple[str, ...] = ()  # remove a URL containing any of these, case-insensitive; empty = off
    banned_words_path: FilePath = ""  # datatrove banned_words.txt: one listed word among the URL's tokens removes it; "" = off
    soft_banned_words_path: FilePath = ""  # datatrove soft_banned_words.txt: removes at soft_word_threshold distinct words; "" = off
    soft_word_threshold: int = 2  # datatrove URLFilter soft_word_threshold default
    banned_subwords_path: FilePath = ""  # datatrove banned_subwords.txt: substrings of the URL without punctuation; "" = off
    url_column: str = "url"  # optional column: docs/ARCHITECTURE.md, "Documents"
    mode: Mode = "drop"  # drop | annotate

    def __post_init__(self):
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "url_substrings", tuple(self.url_substrings))
        if not (self.blocklist or self.url_substrings or self.banned_words_path
                or self.soft_banned_words_path or self.banned_subwords_path):
            what = "an allowlist only exempts URLs from the other rules; " if self.allowlist else ""
            raise ValueError(f"url_filter: {what}set at least one of blocklist, url_substrings, banned_words_path, "
                             "soft_banned_words_path, banned_subwords_path")
        if self.categories and not self.blocklist:
            raise ValueError("url_filter: categories pick UT1 categories of the blocklist, but no blocklist is set")
        bad = [c for c in self.categories if not c or "/" in c or c in (".", "..")]
        if bad:
            raise ValueError(f"url_filter: categories must be directory names, got {bad}")
        if any(not s for s in self.url_substrings):
            raise ValueError("url_filter: url_substrings may not contain an empty string (it matches every URL)")
        if self.soft_word_threshold < 1:
            raise ValueError(f"url_filter: soft_word_threshold must be >= 1, got {self.soft_word_threshold}")

    def annotate(self, table: pa.Table) -> pa.Table:
        n = table.num_rows
        urls = (_text.text_array(table, self.url_column) if self.url_column in table.column_names
                else pa.nulls(n, pa.string()))
        host, path = parse(urls)
        missing = pc.is_null(host)
        # the rules read the URL of rows that have one: a row without a usable URL matches nothing
        urls = pc.if_else(missing, "", pc.utf8_trim_whitespace(pc.fill_null(urls, "")))
        values: dict = {"url_missing": missing}
        if self.allowlist:
            allowed = lookup(host_list(self.allowlist, (), self.use), host, path)
            values["url_allowlisted"] = pc.is_valid(allowed)
        if self.blocklist:
            values["url_blocklist_match"] = lookup(host_list(self.blocklist, self.categories, self.use), host, path)
        if self.url_substrings:
            hits = [_text.mask(pc.match_substring(urls, s, ignore_case=True)) for s in self.url_substrings]
            values["url_num_substrings"] = np.sum(hits, axis=0, dtype=np.int64)
        if self.banned_words_path:
            values["url_num_banned_words"] = _distinct_words(urls, word_set(self.banned_words_path, self.use))
        if self.soft_banned_words_path:
            values["url_num_soft_banned_words"] = _distinct_words(
                urls, word_set(self.soft_banned_words_path, self.use))
        if self.banned_subwords_path:
            subwords = sorted(word_set(self.banned_subwords_path, self.use))  # ASCII letters and digits only
            squeezed = pc.ascii_lower(pc.replace_substring_regex(urls, "[^a-zA-Z0-9]+", ""))
            values["url_banned_subword"] = pa.array(
                _text.mask(pc.match_substring_regex(squeezed, "|".join(subwords))))
        return set_columns(table, values)

    def reasons(self, table: pa.Table) -> pa.Array:
        n = table.num_rows
        allowed = column(table, "url_allowlisted") if self.allowlist else np.zeros(n, dtype=bool)
        fails = []
        if self.blocklist:
            fails.append(("url_blocklist", ~pc.is_null(table.column("url_blocklist_match")).to_numpy()))
        if self.url_substrings:
            fails.append(("url_substring", column(table, "url_num_substrings") > 0))
        if self.banned_words_path:
            fails.append(("url_banned_word", column(table, "url_num_banned_words") > 0))
        if self.soft_banned_words_path:
            fails.append(("url_soft_banned_words",
                          column(table, "url_num_soft_banned_words") >= self.soft_word_threshold))
        if self.banned_subwords_path:
            fails.append(("url_banned_subword", column(table, "url_banned_subword")))
        return first_reason(n, (), [(name, np.asarray(failed, dtype=bool) & ~allowed) for name, failed in fails])


def _distinct_words(urls: pa.Array, words: frozenset[str]) -> np.ndarray:
    """Per URL, how many distinct listed words are among its tokens (runs of ASCII letters and
    digits, lower-cased: datatrove splits on ``[^a-zA-Z0-9]+``)."""
    n = len(urls)
    tokens, parent = _text.flatten(pc.split_pattern_regex(pc.ascii_lower(urls), "[^a-z0-9]+"))
    hit = _text.mask(pc.is_in(tokens, value_set=pa.array(sorted(words), pa.string())))
    out = np.zeros(n, dtype=np.int64)
    if hit.any():
        rows = parent[hit]
        found = pc.filter(tokens, pa.array(hit)).to_pylist()
        for row, _ in set(zip(rows.tolist(), found)):
            out[row] += 1
    return out

