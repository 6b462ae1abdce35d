"""Personal-data detectors for ``pii``: a candidate regex per kind, then a validator.

Each detector finds candidates with a regular expression and keeps those that pass a check
specific to the kind, so that numbers that only look like personal data stay untouched:

- email: ``local@domain.tld`` with an alphabetic TLD that is not an image/code file extension
  (``logo@2x.png`` is a file name, not an address).
- credit_card: 13-19 digits, ungrouped or in the issuers' printed groupings (4-4-4-4[-3],
  Amex 4-6-5, Diners 4-6-4), an issuer prefix (ISO/IEC 7812 IIN ranges) and the Luhn checksum.
- iban: the country's registered length (SWIFT IBAN registry) and ISO 13616 mod-97 == 1.
- ip_address: IPv4 dotted quads and IPv6 that Python's ``ipaddress`` parses and calls
  ``is_global``; IPv6 must also be global unicast (2000::/3, the only block IANA allocates), so
  ``std::map``-like code and MAC addresses are not addresses. A dotted quad is a *version*, not
  an address, when it is glued to ``v``/``V`` or a name (``v1.2.3.4``, ``Chrome/1.2.3.4``,
  ``pkg-1.2.3.4``), is followed by a fifth component, or the word before it is a version or
  section word (``version 1.2.3.4``, ``build``, ``release``, ``section``...).
- phone: see ``pii_phone.py`` (``phonenumbers`` validation plus rules against dates and counts).

``detect`` runs every detector, then resolves overlaps in ``PRIORITY`` order (an IBAN's digits
are never also a phone number), so the spans of one kind do not depend on which other kinds a
config asks for.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Iterator, Literal, NamedTuple

from datamill.filters import pii_phone

Kind = Literal["email", "phone", "ip_address", "credit_card", "iban"]
KINDS: tuple[str, ...] = ("email", "phone", "ip_address", "credit_card", "iban")
PRIORITY: tuple[str, ...] = ("email", "iban", "credit_card", "ip_address", "phone")


class Span(NamedTuple):
    kind: str
    start: int
    end: int


# --- email -----------------------------------------------------------------------------------
EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
                   r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-]|\.\w)")
FILE_TLDS = frozenset("png jpg jpeg gif svg webp bmp ico js css ts py json xml html htm pdf zip".split())


def emails(text: str) -> Iterator[tuple[int, int]]:
    for m in EMAIL.finditer(text):
        if m.group(1).lower() not in FILE_TLDS and ".." not in m.group(0):
            yield m.start(), m.end()


# --- credit cards ----------------------------------------------------------------------------
CARD = re.compile(r"(?<![\w.+#/=,-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
CARD_WORDS = re.compile(r"card|cards|\w*karte|carte|tarjeta|carta|visa|mastercard|amex|cc|credit|kredit")
CARD_GROUPS = pii_phone.CARD_GROUPS  # printed groupings; a phone never has one (unless it starts with 0)
# (prefix range low, high, lengths): Visa, Mastercard, Amex, Diners, JCB, Discover/UnionPay/Maestro;
# Visa's retired 13-digit and Maestro's 12-15 digit numbers are left out: 13-digit EAN barcodes
# pass Luhn one time in ten
IIN = ((4, 4, (16, 19)), (51, 55, (16,)), (2221, 2720, (16,)), (34, 34, (15,)), (37, 37, (15,)),
       (300, 305, range(14, 20)), (36, 36, range(14, 20)), (38, 39, range(14, 20)),
       (3528, 3589, range(16, 20)), (50, 50, range(16, 20)), (56, 69, range(16, 20)))


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum of ISO/IEC 7812 card numbers."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def issuer_known(digits: str) -> bool:
    for low, high, lengths in IIN:
        prefix = int(digits[:len(str(low))])
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


def credit_cards(text: str) -> Iterator[tuple[int, int]]:
    for m in CARD.finditer(text):
        raw = m.group(0)
        seps = set(re.findall(r"[ -]", raw))
        if len(seps) > 1:
            continue
        groups = tuple(len(g) for g in re.split(r"[ -]", raw))
        if len(groups) > 1 and groups not in CARD_GROUPS:
            continue
        digits = re.sub(r"\D", "", raw)
        if pii_phone.IBAN_HEAD.search(text[max(0, m.start() - 40):m.start()]):
            continue
        if issuer_known(digits) and luhn_valid(digits) and not pii_phone.negative_context(text, m.start(), CARD_WORDS):
            yield m.start(), m.end()


# --- IBAN ------------------------------------------------------------------------------------
IBAN_LENGTHS = {  # SWIFT IBAN registry (release 2024): country -> length
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})\d\d")


def iban_valid(iban: str) -> bool:
    """ISO 13616: registered length for the country and (digits, letters as 10..35) mod 97 == 1."""
    iban = iban.replace(" ", "").upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


def ibans(text: str) -> Iterator[tuple[int, int]]:
    """IBANs printed in one piece or in groups separated by single spaces (the paper format)."""
    for m in IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1))
        if length is None:
            continue
        i, n, chars = m.start(), 0, []
        while i < len(text) and n < length:
            c = text[i]
            if c.isascii() and c.isalnum():
                chars.append(c)
                n += 1
            elif not (c == " " and chars and i + 1 < len(text) and text[i + 1].isalnum()):
                break
            i += 1
        if n == length and not (i < len(text) and text[i].isalnum()) and iban_valid("".join(chars)):
            yield m.start(), i


# --- IP addresses ----------------------------------------------------------------------------
IPV4 = re.compile(r"(?<![\w.:-])((?:\d{1,3}\.){3}\d{1,3})(?![\w-]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])((?:[0-9A-Fa-f]{1,4}:|:){2,7}(?::|[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3}))"
                  r"(?![\w:])")
VERSION_GLUE = re.compile(r"(?:[vV]|[A-Za-z][\w.]*[/-])$")
VERSION_WORDS = frozenset("""version versions ver vers release rel build revision rev v update firmware patch
    kernel sdk api release: section sect sec chapter ch clause article art table tab figure fig fig.
    step appendix paragraph par rule item versão versión versione""".split())
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _word_before(text: str, start: int) -> str:
    words = re.findall(r"[^\W\d_]+\.?", text[max(0, start - 24):start])
    return words[-1].lower().rstrip(".") if words else ""


def ip_addresses(text: str) -> Iterator[tuple[int, int]]:
    for m in IPV4.finditer(text):
        if VERSION_GLUE.search(text[max(0, m.start() - 32):m.start()]):
            continue
        if _word_before(text, m.start()) in VERSION_WORDS or text[max(0, m.start() - 2):m.start()] == "§ ":
            continue
        try:
            if ipaddress.IPv4Address(m.group(1)).is_global:
                yield m.start(), m.end()
        except ValueError:  # an octet over 255 or with a leading zero
            continue
    for m in IPV6.finditer(text):
        try:
            address = ipaddress.IPv6Address(m.group(1))
        except ValueError:
            continue
        if address.is_global and address in GLOBAL_UNICAST:
            yield m.start(), m.end()


DETECTORS = {"email": emails, "iban": ibans, "credit_card": credit_cards, "ip_address": ip_addresses}
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN")  # national formats tried for numbers without +CC


def detect(text: str, phone_regions: tuple[str, ...] = PHONE_REGIONS) -> list[Span]:
    """Every span of every kind, non-overlapping (earlier kinds in ``PRIORITY`` win), by start."""
    taken: list[Span] = []
    for kind in PRIORITY:
        found = pii_phone.phones(text, phone_regions) if kind == "phone" else DETECTORS[kind](text)
        for start, end in found:
            if all(end <= s.start or start >= s.end for s in taken):
                taken.append(Span(kind, start, end))
    return sorted(taken, key=lambda s: s.start)
