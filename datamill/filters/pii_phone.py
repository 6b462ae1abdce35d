"""Phone numbers for ``pii``: a candidate regex, rules against look-alikes, ``phonenumbers`` checks.

A candidate is a run of digit groups separated by single spaces, dots, dashes or slashes, with an
optional ``+CC`` / ``00CC`` prefix, ``(area)`` group and ``x123``/``ext. 123`` extension. It is
kept when:

1. it has 7-15 digits (E.164 allows at most 15) and no more than one single-digit group after a
   country code (``1 2 3 4 5 6 7`` is a list);
2. it does not start with a date (``2023-01-15``, ``15.01.2023 00 UTC``), is not a decimal,
   a dotted quad, opening hours (``9.00-16.00``), a card-shaped group run (4-4-4-4...) or a
   hyphenated valid ISBN, nor (without a phone word close before it) a thousands-grouped count
   (``12 345 678``, ``1.234.567``);
3. the word before it is not an identifier word (order, invoice, ISBN, SKU, ref, version, ...)
   or ``#`` (``Order #555-123-4567``), unless a phone word is close before it;
4. it is written like a phone number: a ``+``/``00`` prefix, separators or parentheses; a bare
   digit run needs a phone word (``tel``, ``phone``, ``fax``, ``Telefon``...) close before it;
5. without a prefix or phone word, it has the NANP shape ``(555) 123-4567`` / ``555-123-4567``
   or starts with the trunk prefix ``0`` that UK, German, French and Indian national numbers
   are written with (``030 1234567``): table cells like ``624-634 301-302`` are not phones;
6. Google's libphonenumber metadata (Python port ``phonenumbers``) calls it *valid*: with its
   country code if it has one, else for one of ``regions`` (national format). With a ``+CC``
   prefix, the NANP shape or a phone word before it, a *possible* number (right length for the
   country) is enough: fictional ranges (Ofcom's drama numbers, NANP 555) and newly opened ones
   are not in the metadata, and each of those three signals is strong on its own.

A candidate is accepted or rejected whole: dropping groups to make it valid would turn the head
of a card number, ISBN or IBAN into a phone number.
"""

from __future__ import annotations

import re
from typing import Iterator

SEP = r"(?:[ \u00a0.\u2013-]|[ \u00a0]?/[ \u00a0]?)"  # one space, dot, dash or en dash; a slash
PHONE = re.compile(
    r"(?<![\w+#@/=.,\u2013-])(?:(?=\+)|(?<!\d[:/ \u00a0.\u2013-]))"  # "+" or not a longer number's tail
    r"(?P<prefix>(?:\+|\b00)\d{1,3}[ \u00a0.-]?(?:\(0\)[ \u00a0]?)?)?"
    rf"(?P<body>(?:\(\d{{1,5}}\)[ \u00a0.-]?)?\d{{1,12}}(?:{SEP}\d{{1,8}}){{0,6}})"
    r"(?P<ext>[ \u00a0]?(?:x|ext\.?|extension)[ \u00a0]?\d{1,6})?"
    r"(?![\w@/\u2013-]|[.,]\d)")
CARD_GROUPS = ((4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1), (4, 6, 5), (4, 6, 4), (4, 4, 4, 2), (4, 4, 4, 3))
NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[.-]\d{4}")
DATE = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}|\d{1,2}([-/.])\d{1,2}\2(?:\d{4}|\d{2})")
THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([ \u00a0.,])\d{3})(?:\1\d{3})*")
DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
DECIMAL = re.compile(r"\d+\.\d+")
HOURS = re.compile(r"\d{1,2}[.:]\d\d ?[-\u2013] ?\d{1,2}[.:]\d\d")  # opening hours 9.00-16.00
IBAN_HEAD = re.compile(r"\b[A-Z]{2}\d\d(?: ?[A-Z0-9]{4})* ?$")  # a phone never continues an IBAN
PHONE_WORDS = re.compile(
    r"(?:\b(?:tel|tél|tele(?:phone|fono|fon)|t[eé]l[eé]phone|phone|ph|call|fax|mobile?|mob|cell|"
    r"handy|mobil|whatsapp|contact|hotline|helpline|ruf|rufnummer|numéro|portable|sms)|☎|📞)",
    re.IGNORECASE)
NEGATIVE_WORDS = frozenset("""order orders invoice inv isbn issn doi sku ref reference tracking serial
    ticket case patent id version ver v build model part item art artikel art.-nr nr no number
    account acct iban bic swift code pin zip postcode postal plz bestellnummer commande facture
    receipt transaction txn batch lot rev revision""".split())


def context_words(text: str, start: int, n: int = 4) -> list[str]:
    """The last ``n`` words before ``start`` on its line and after any other number, lower-cased
    (``#`` counts as a word): the phone word of ``Tel. 030 1234567, 12.345.678`` is not the count's."""
    line = re.split(r"[\n\d>]", text[max(0, start - 48):start])[-1]  # ">": a placeholder's end
    words = re.findall(r"#|[^\W\d_][\w.-]*|[☎📞]", line)
    return [re.sub(r"-\d+$", "", w.lower().rstrip(".:")) for w in words[-n:]]


def phone_word_before(text: str, start: int) -> bool:
    """A phone word among the last four words before ``start`` on its line (``Call Ann Lee on``)."""
    return any(PHONE_WORDS.fullmatch(w) for w in context_words(text, start))


def negative_context(text: str, start: int, allow: re.Pattern = PHONE_WORDS) -> bool:
    """The word before ``start`` is an identifier word or ``#`` and no ``allow`` word is among
    the last four (``Order #555-123-4567`` is not a phone, ``Tel. No. 555-123-4567`` is)."""
    words = context_words(text, start)
    if not words or any(allow.fullmatch(w) for w in words):
        return False
    return words[-1] == "#" or words[-1] in NEGATIVE_WORDS


def isbn_valid(digits: str) -> bool:
    """ISBN-10 (weights 10..1, mod 11; X = 10) or ISBN-13 (978/979, weights 1,3, mod 10)."""
    if len(digits) == 10:
        values = [10 if c in "Xx" else int(c) for c in digits]
        return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0
    if len(digits) == 13 and digits[:3] in ("978", "979"):
        return sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(digits)) % 10 == 0
    return False


def _looks_like_other_number(body: str) -> bool:
    """A date, decimal, dotted quad, time range, card-shaped group run or hyphenated ISBN."""
    if DATE.match(body) or DECIMAL.fullmatch(body) or DOTTED_QUAD.fullmatch(body) or HOURS.fullmatch(body):
        return True
    if tuple(len(g) for g in re.split(r"[ -]", body)) in CARD_GROUPS and body[0] != "0":  # no card starts with 0
        return True
    return body.count("-") >= 3 and isbn_valid(body.replace("-", ""))


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
    if len(set(re.findall(r"[^\d()]+", body))) > 2 or (not prefix and _looks_like_other_number(body)):
        return False
    keyword = phone_word_before(text, start)
    if not prefix and not keyword and THOUSANDS.fullmatch(body):
        return False
    if negative_context(text, start) or IBAN_HEAD.search(text[max(0, start - 40):start]):
        return False
    formatted = prefix.startswith("+") or len(groups) > 1 or "(" in body
    if not (formatted or keyword):
        return False
    nanp = NANP.fullmatch(raw) is not None
    if not (prefix or keyword or nanp or re.match(r"\(?0", body)):  # see rule 5
        return False
    loose = keyword or prefix.startswith("+") or nanp
    return _valid(raw, bool(prefix), loose, regions)


def phones(text: str, regions: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    for m in PHONE.finditer(text):
        if _accept(text, m.start(), m.group("prefix") or "", m.group("body"), regions):
            yield m.start(), m.end()
