"""The lists ``url_filter`` reads, loaded lazily once per worker process and matched per URL.

A host list is a file of entries (one per line, ``#`` comments and blank lines ignored) or a
directory in the UT1 layout FineWeb used (``CATEGORY/domains`` and ``CATEGORY/urls``). An entry
without ``/`` is a domain (it matches that host and every subdomain); one with ``/`` is a URL
prefix ``host/path`` (it matches that host, or ``www.`` + it, and every path below it). Lists are
cached per process by (path, categories, every file's mtime and size): an edited list is re-read.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

_CACHE: dict[tuple, object] = {}
_LOCK = threading.Lock()
_EXTRACTOR: list = []  # one offline tldextract.TLDExtract per worker process
# scheme (optional), user info, host, port (digits), path, query/fragment; "hard::x.html" has no host
_URL = (r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://|//)?(?:[^/?#]*@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:/?#\[\]@\s]+)"
        r"(?::[0-9]+)?(?P<path>/[^?#]*)?(?:[?#].*)?$")
_HOST = r"^(?:[\pL\pN_-]+\.)*[\pL\pN_-]+$|^\[[0-9a-f:.]+\]$"  # a DNS name or an IPv6 literal
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")  # datatrove url_filter's normaliser (after lower-casing)


@dataclass(frozen=True)
class HostList:
    domains: frozenset[str]  # hostnames, lower-case, IDNA (punycode)
    urls: frozenset[str]  # "host/path" prefixes, lower-case, no "www.", no trailing "/"


def parse(urls: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(host, path) per URL, lower-cased; host without user info, port or trailing dot, in IDNA
    form, null where there is no usable host (then the row has no URL). A URL without a scheme
    (``example.com/a``) is read as ``//example.com/a``, as ``metadata_prefix`` reads it."""
    parts = pc.extract_regex(pc.utf8_trim_whitespace(urls), _URL)
    host = pc.utf8_rtrim(pc.utf8_lower(pc.struct_field(parts, "host")), characters=".")
    host = pc.if_else(pc.match_substring_regex(host, _HOST), host, pa.scalar(None, pa.string()))
    host = pc.replace_substring_regex(host, r"^\[|\]$", "")  # IPv6 literal: no brackets
    if not pc.all(pc.fill_null(pc.string_is_ascii(host), True)).as_py():
        host = pa.array([_idna(h) if h else h for h in host.to_pylist()], pa.string())
    return host, pc.utf8_lower(pc.fill_null(pc.struct_field(parts, "path"), ""))


def lookup(hosts: HostList, host: pa.Array, path: pa.Array) -> pa.Array:
    """Per row, the listed entry that matches (``match``), or null; each distinct host of the
    batch is looked up once."""
    encoded = host.dictionary_encode()
    found = pc.take(pa.array([match_domain(hosts, h) for h in encoded.dictionary.to_pylist()], pa.string()),
                    encoded.indices)
    if not hosts.urls:
        return found
    rows = zip(found.to_pylist(), host.to_pylist(), path.to_pylist())
    return pa.array([f if f or not h else match_url(hosts, h, p) for f, h, p in rows], pa.string())


def match_domain(hosts: HostList, host: str) -> str | None:
    """The listed domain that is the host or a parent of it (``a.b.example.com`` ->
    ``b.example.com`` -> ``example.com`` -> ``com``), skipping listed public suffixes (``co.uk``)
    so that one never blocks a whole registry; an IP address matches only as a whole."""
    name = host
    while hosts.domains:
        if name in hosts.domains and not is_public_suffix(name):
            return name
        dot = name.find(".")
        if dot < 0 or ":" in host or _IPV4.fullmatch(host):
            break
        name = name[dot + 1:]
    return None


def match_url(hosts: HostList, host: str, path: str) -> str | None:
    """The listed ``host/path`` prefix of the URL (``www.`` dropped, whole path segments), or None."""
    key = (host[4:] if host.startswith("www.") else host) + path.rstrip("/")
    while True:
        if key in hosts.urls:
            return key
        slash = key.rfind("/")
        if slash < 0:
            return None
        key = key[:slash]


@functools.lru_cache(maxsize=4096)
def is_public_suffix(name: str) -> bool:
    """True for an ICANN public suffix (``com``, ``co.uk``), from the Public Suffix List snapshot
    bundled with tldextract (no network)."""
    if not _EXTRACTOR:
        import tldextract

        _EXTRACTOR.append(tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None))
    parts = _EXTRACTOR[0](name)
    return not parts.domain and parts.suffix == name


def host_list(path: str, categories: tuple[str, ...], stage: str) -> HostList:
    files = _list_files(Path(path), categories, stage)
    key = ("hosts", path, categories, tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f, _ in files))
    with _LOCK:
        if key not in _CACHE:
            domains, urls = set(), set()
            for file, kind in files:
                for entry in _entries(file):
                    entry = entry.lower().split("://", 1)[-1].lstrip("*.").rstrip("/")
                    host, slash, rest = entry.partition("/")
                    host = _idna(host.rstrip("."))
                    if kind == "urls" or (kind == "any" and slash):
                        urls.add((host[4:] if host.startswith("www.") else host) + slash + rest)
                    elif host:
                        domains.add(host)
            if not domains and not urls:
                raise ValueError(f"{stage}: no entries in {path}")
            _CACHE[key] = HostList(frozenset(domains), frozenset(urls))
        return _CACHE[key]


def word_set(path: str, stage: str) -> frozenset[str]:
    """A word list normalised as datatrove's ``parse_list`` does: lines starting with ``#``
    skipped, everything but ASCII letters and digits removed, lower-cased."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{stage}: word list {path!r} not found")
    key = ("words", path, file.stat().st_mtime_ns, file.stat().st_size)
    with _LOCK:
        if key not in _CACHE:
            words = frozenset(w for w in (normalize(e) for e in _entries(file)) if w)
            if not words:
                raise ValueError(f"{stage}: word list {path!r} is empty")
            _CACHE[key] = words
        return _CACHE[key]


def normalize(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def _list_files(path: Path, categories: tuple[str, ...], stage: str) -> list[tuple[Path, str]]:
    """(file, kind) pairs: kind "domains", "urls", or "any" for a plain file (lines with "/"
    are URL prefixes there)."""
    if path.is_file():
        if categories:
            raise ValueError(f"{stage}: categories pick UT1 categories, but {str(path)!r} is a file")
        return [(path, "any")]
    if not path.is_dir():
        raise FileNotFoundError(f"{stage}: list {str(path)!r} not found")
    available = sorted(d.name for d in path.iterdir() if d.is_dir())
    unknown = sorted(set(categories) - set(available))
    if unknown:
        raise ValueError(f"{stage}: unknown categories {unknown} in {str(path)!r}; it has {available}")
    files = [(path / c / kind, kind) for c in (categories or available) for kind in ("domains", "urls")
             if (path / c / kind).is_file()]
    if not files:
        raise ValueError(f"{stage}: no CATEGORY/domains or CATEGORY/urls files under {str(path)!r} (UT1 layout)")
    return files


def _entries(file: Path):
    for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def _idna(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:  # not valid IDNA 2003: compare it as written
        return host
