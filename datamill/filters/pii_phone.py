"""Phone numbers for ``pii``: a candidate regex, rules against look-alikes, ``phonenumbers`` checks.

A candidate is a run of digit groups separated by single spaces, dots, dashes or slashes, with an
optional ``+CC`` / ``00CC`` prefix, ``(area)`` group and ``x123``/``ext. 123`` extension. It is
kept when:

1. it has 7-15 digits (E.164 allows at most 15) and no more than one single-digit group after a
   country code (``1 2 3 4 5 6 7`` is a list);
2. it is not a date (``2023-01-15``, ``15.01.2023``, ``01/15/2023``), a dotted quad, or a
   thousands-grouped count (``12 345 678``, ``1.234.567``), unless a phone word is close before it;
3. the word before it is not an identifier word (order, invoice, ISBN, SKU, ref, version, ...)
   or ``#`` (``Order #555-123-4567``), unless a phone word is close before it;
4. it is written like a phone number: a ``+``/``00`` prefix, separators or parentheses; a bare
   digit run needs a phone word (``tel``, ``phone``, ``fax``, ``Telefon``...) close before it;
5. Google's libphonenumber metadata (Python port ``phonenumbers``) calls it *valid*: with its
   country code if it has one, else for one of ``regions`` (national format). A NANP shape
   ``(555) 123-4567`` / ``555-123-4567``, a
   ``+CC`` prefix or a phone word before it only needs a *possible* number (right length for the
   country), because fictional (Ofcom's drama ranges, NANP 555) and newly opened ranges are not
   in the metadata, and those three signals are strong on their own.

If the whole candidate fails, trailing groups are dropped one at a time (``555-123-4567 2019``).
"""

from __future__ import annotations

import re
from typing import Iterator

SEP = r"(?:[ \u00a0.-]|/ ?)"
PHONE = re.compile(
    r"(?<![\w+#@/=.,-])"
    r"(?P<prefix>(?:\+|\b00)\d{1,3}[ \u00a0.-]?(?:\(0\)[ \u00a0]?)?)?"
    rf"(?P<body>(?:\(\d{{1,5}}\)[ \u00a0.-]?)?\d{{1,12}}(?:{SEP}\d{{1,8}}){{0,6}})"
    r"(?P<ext>[ \u00a0]?(?:x|ext\.?|extension)[ \u00a0]?\d{1,6})?"
    r"(?![\w@/-]|[.,]\d)")
NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[.-]\d{4}")
DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2(?:\d{4}|\d{2})")
THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([ \u00a0.,])\d{3})(?:\1\d{3})*")
DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
PHONE_WORDS = re.compile(
    r"(?:\b(?:tel|tél|tele(?:phone|fono|fon)|t[eé]l[eé]phone|phone|ph|call|fax|mobile?|mob|cell|"
    r"handy|mobil|whatsapp|contact|hotline|helpline|ruf|rufnummer|numéro|portable|sms)\b|☎|📞)",
    re.IGNORECASE)
NEGATIVE_WORDS = frozenset("""order orders invoice inv isbn issn doi sku ref reference tracking serial
    ticket case patent id version ver v build model part item art artikel art.-nr nr no number
    account acct iban bic swift code pin zip postcode postal plz bestellnummer commande facture
    receipt transaction txn batch lot rev revision""".split())


def _before(text: str, start: int, width: int = 32) -> str:
    return text[max(0, start - width):start]


def phone_word_before(text: str, start: int) -> bool:
    return PHONE_WORDS.search(_before(text, start)) is not None


def negative_context(text: str, start: int) -> bool:
    """An identifier word or ``#`` just before ``start`` (and no phone word): not personal data."""
    before = _before(text, start)
    if phone_word_before(text, start):
        return False
    if re.search(r"#\s*$", before):
        return True
    words = re.findall(r"[^\W\d_][\w.-]*", before)
    return bool(words) and words[-1].lower().rstrip(".:") in NEGATIVE_WORDS


def _looks_like_other_number(raw: str) -> bool:
    return bool(DATE.fullmatch(raw) or THOUSANDS.fullmatch(raw) or DOTTED_QUAD.fullmatch(raw))


def _valid(raw: str, international: bool, loose: bool, regions: tuple[str, ...]) -> bool:
    import phonenumbers  # loaded in the worker, on first use

    check = phonenumbers.is_possible_number if loose else phonenumbers.is_valid_number
    number = re.sub(r"^00", "+", raw.strip())
    for region in (None,) if international else regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if check(parsed):
            return True
    return False


def _accept(text: str, start: int, prefix: str, body: str, regions: tuple[str, ...]) -> bool:
    raw = prefix + body
    digits = re.sub(r"\D", "", raw)
    groups = re.findall(r"\d+", body)
    if not 7 <= len(digits) <= 15 or sum(len(g) == 1 for g in groups) > 1:
        return False
    keyword = phone_word_before(text, start)
    if not prefix and not keyword and _looks_like_other_number(body):
        return False
    if negative_context(text, start):
        return False
    formatted = bool(prefix) or len(groups) > 1 or "(" in body
    if not (formatted or keyword):
        return False
    loose = keyword or prefix.startswith("+") or NANP.fullmatch(raw) is not None
    return _valid(raw, bool(prefix), loose, regions)


def phones(text: str, regions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    for m in PHONE.finditer(text):
        prefix, body = m.group("prefix") or "", m.group("body")
        while True:
            if _accept(text, m.start(), prefix, body, regions):
                yield m.start(), m.end() if body == m.group("body") else m.start("body") + len(body)
                break
            cut = re.search(rf"{SEP}\d+$", body)
            if cut is None:
                break
            body = body[:cut.start()]
