"""MeCo metadata conditioning (Gao et al. 2025, arXiv 2501.01956; docs/METHODS.md, "MeCo metadata conditioning").

Adds a ``metadata_prefix`` column, e.g. ``"URL: en.wikipedia.org\\n\\n"``, that ``token_shards``
tokenizes on its own and stores ahead of the document with its token count, so the trainer
masks its loss and leaves it out during the cooldown. The text column is not changed.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import pyarrow as pa

from datamill.stage import MapStage, with_reasons

PREFIX_COLUMN = "metadata_prefix"
_EXTRACTOR: list = []  # one offline tldextract.TLDExtract per worker process


def url_host(url: str) -> str:
    """MeCo's "absolute domain" (``--use_short_url``): the host with subdomains and port,
    lower-cased, without scheme, user info, path, query or fragment."""
    url = url.strip()
    if "://" not in url and not url.startswith("//"):
        url = "//" + url  # "en.wikipedia.org/wiki/X" has no scheme; urlsplit needs "//"
    netloc = urlsplit(url).netloc
    return netloc.rsplit("@", 1)[-1].lower()


def _extract(host: str):
    if not _EXTRACTOR:
        import tldextract

        # suffix_list_urls=() -> the Public Suffix List snapshot bundled with tldextract: no network.
        _EXTRACTOR.append(tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None))
    return _EXTRACTOR[0](host)


def registered_domain(host: str) -> str:
    """``domain.suffix`` (``--use_url_domain``), e.g. ``wikipedia.org``; an IP or a host with no
    public suffix (``localhost``) stays as it is, without its port."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host  # drop a port (not in IPv6)
    r = _extract(name)
    top = r.top_domain_under_public_suffix if hasattr(r, "top_domain_under_public_suffix") else r.registered_domain
    return top or name


def tld(host: str) -> str:
    """The public suffix alone (``--use_url_suffix``), e.g. ``org`` or ``co.uk``."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return _extract(name).suffix or name


@dataclass(frozen=True)
class MetadataPrefix(MapStage):
    """Prefix each document with its URL's domain (MeCo); the prefix is stored, not prepended."""

    use: ClassVar[str] = "metadata_prefix"
    version: ClassVar[str] = "1"
    reads: ClassVar[tuple[str, ...]] = ()  # url_column is optional: rows without one follow `missing`
    writes: ClassVar[tuple[str, ...]] = (PREFIX_COLUMN,)

    template: str = "URL: {host}\n\n"  # MeCo README pack command: prefix "URL: ", suffix "\n\n"
    host: Literal["host", "registered_domain", "tld", "hash"] = "host"  # MeCo --use_short_url (full host); registered_domain | tld | hash are its ablations
    url_column: str = "url"  # optional column: docs/ARCHITECTURE.md, "Documents"
    missing: Literal["none", "drop", "fixed"] = "none"  # no URL: none (no prefix) | drop (remove the row) | fixed (use missing_host)
    missing_host: str = "unknown"  # the {host} for documents without a URL when missing == "fixed"
    hash_salt: str = ""  # host mode "hash": hashed hosts keep MeCo's grouping (Gao et al. 2025, §5)
    hash_chars: int = 16  # hex characters of the hash kept

    def __post_init__(self):
        fields = {name for _, name, _, _ in string.Formatter().parse(self.template) if name is not None}
        if not fields <= {"host", "url"}:
            raise ValueError(f"metadata_prefix: template may use {{host}} and {{url}} only, got "
                             f"{sorted(fields - {'host', 'url'})} in {self.template!r}")
        if not 4 <= self.hash_chars <= 64:
            raise ValueError(f"metadata_prefix: hash_chars must be in 4..64, got {self.hash_chars}")

    def render_host(self, host: str) -> str:
        if self.host == "registered_domain":
            return registered_domain(host)
        if self.host == "tld":
            return tld(host)
        if self.host == "hash":
            return hashlib.blake2b(f"{self.hash_salt}\x00{host}".encode()).hexdigest()[: self.hash_chars]
        return host

    def prefix(self, url: str | None) -> str | None:
        """The prefix for one URL; None when there is no usable URL and ``missing`` is not "fixed"."""
        host = url_host(url) if url else ""
        if host:
            return self.template.format(host=self.render_host(host), url=url)
        if self.missing == "fixed":
            return self.template.format(host=self.missing_host, url="")
        return None

    def __call__(self, table: pa.Table) -> pa.Table:
        urls = (table.column(self.url_column).to_pylist() if self.url_column in table.column_names
                else [None] * table.num_rows)
        prefixes = [self.prefix(u) for u in urls]
        column = pa.array([p or "" for p in prefixes], pa.string())
        if PREFIX_COLUMN in table.column_names:
            table = table.drop_columns([PREFIX_COLUMN])
        table = table.append_column(PREFIX_COLUMN, column)
        if self.missing == "drop":
            return with_reasons(table, pa.array([None if p is not None else "no_url" for p in prefixes],
                                                pa.string()))
        return table
