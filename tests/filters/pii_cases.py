"""A labelled PII evaluation set generated with ``faker``: true PII in sentences, mixed with hard
negatives (dates, prices, ISBNs, versions, order numbers, hashes, maths, code, private IPs,
checksum-broken cards and IBANs). Used by tests/filters/test_pii.py and benchmarks/pii_eval.py.

A document is 1-4 snippets; each snippet is a positive (kind, value) or a negative (category,
value) in a template. Labels are character spans of the value in the document.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "en_IN", "es_ES", "it_IT", "nl_NL")
POSITIVE_TEMPLATES = {
    "email": ["Contact {name} at {v} for details.", "E-Mail: {v}", "send the draft to {v} before Friday",
              "Écrivez à {v} pour plus d'informations.", "{name} <{v}> wrote:"],
    "phone": ["Call {name} on {v}.", "Tel.: {v}", "You can reach the office at {v} during the week.",
              "{name}, {v}", "Bei Fragen: {v}", "Numéro : {v}", "WhatsApp {v}", "({v})"],
    "ip_address": ["Failed login from {v} at night.", "The server at {v} answered.", "client={v} status=200",
                   "Ban {v} in the firewall.", "{name} connected from {v}."],
    "credit_card": ["Card number: {v}", "paid with {v} exp 04/27", "Please charge {v} for the order.",
                    "Kreditkarte {v}"],
    "iban": ["IBAN: {v}", "Please transfer the amount to {v} by Monday.", "Bankverbindung: {v}",
             "Virement sur le compte {v}."],
}
NEGATIVE_TEMPLATES = ["On {v} the meeting took place.", "It costs {v}.", "{v}", "see {v} for more",
                      "The value was {v} in the last report."]


@dataclass
class Doc:
    text: str = ""
    spans: list = field(default_factory=list)  # (kind, start, end) of true PII
    negatives: list = field(default_factory=list)  # (category, start, end) of hard negatives


def _card(fake, rng: random.Random) -> str:
    # faker's JCB (35xx) and Maestro (0604...) prefixes are outside the issuers' ranges: left out
    number = fake.credit_card_number(rng.choice(["visa16", "visa13", "visa19", "mastercard", "amex", "discover",
                                                 "diners"]))
    style = rng.choice(["raw", "space", "dash"])
    if style == "raw":
        return number
    groups = {15: (4, 6, 5), 14: (4, 6, 4), 19: (4, 4, 4, 4, 3)}.get(len(number), (4, 4, 4, 4))
    out, i = [], 0
    for g in groups:
        out.append(number[i:i + g])
        i += g
    out[-1] += number[i:]
    return (" " if style == "space" else "-").join(out)


def _iban(fake, rng: random.Random) -> str:
    if fake.locales == ["en_IN"]:  # faker's en_IN IBANs are 21-character "GB" ones (GB has 22)
        return _iban(fake.__class__("en_GB"), rng)
    iban = fake.iban()
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _ipv6(fake) -> str:
    while True:
        a = ipaddress.IPv6Address(fake.ipv6())
        if a.is_global and a in ipaddress.ip_network("2000::/3"):
            return str(a)


def positive(kind: str, fake, rng: random.Random) -> str:
    if kind == "email":
        return rng.choice([fake.email, fake.free_email, fake.company_email])()
    if kind == "phone":
        return fake.phone_number()
    if kind == "ip_address":
        return fake.ipv4_public() if rng.random() < 0.7 else _ipv6(fake)
    if kind == "credit_card":
        return _card(fake, rng)
    return _iban(fake, rng)


def _broken(value: str, rng: random.Random) -> str:
    """One digit changed: the checksum fails (Luhn and mod-97 catch every single-digit error)."""
    idx = [i for i, c in enumerate(value) if c.isdigit() and i > 3]
    i = rng.choice(idx)
    return value[:i] + str((int(value[i]) + rng.randint(1, 9)) % 10) + value[i + 1:]


NEGATIVES = {
    "date": lambda f, r: f.date(r.choice(["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%d/%m/%Y", "%d-%m-%Y"])),
    "datetime": lambda f, r: f.date_time().isoformat() + r.choice(["", "Z", "+02:00"]),
    "price": lambda f, r: r.choice([f.pricetag(), f"{r.randint(1, 99999):,}.{r.randint(0, 99):02d} USD",
                                    f"{r.randint(1000, 9999999):,}".replace(",", " ") + ",00 €"]),
    "isbn": lambda f, r: r.choice(["ISBN ", "", "ISBN-13: "]) + r.choice([f.isbn13, f.isbn10])(),
    "version": lambda f, r: r.choice(["version ", "v", "Chrome/", "build ", "release ", "libfoo-"]) + ".".join(
        str(r.randint(0, 30)) for _ in range(r.choice([3, 4]))),
    "order_number": lambda f, r: r.choice(["Order #", "Invoice no. ", "Tracking number ", "SKU ", "Ref. "])
    + f.numerify(r.choice(["##########", "###-###-####", "########", "#### #### ####"])),
    "barcode": lambda f, r: r.choice([f.ean13, f.ean8])(),
    "hash": lambda f, r: r.choice([f.sha1, f.md5, f.sha256, f.uuid4])(),
    "math": lambda f, r: r.choice([f"{a} * {b} = {a * b}", f"({a} + {b}) / 2", f"x^2 + {a}x - {b} = 0",
                                   f"{a}.{b} - 0.{c} = 3.14159", f"[[{a}, {b}], [{c}, {a + b}]]"])
    if (a := r.randint(100, 99999), b := r.randint(100, 99999), c := r.randint(10, 999)) else "",
    "code": lambda f, r: r.choice(["for (int i = 0; i < 1000000; i++) x[i] = i * 31;", "std::map<int, int> m;",
                                   "int port = 8080; long max = 2147483647;", "SELECT * FROM users WHERE id = 4815162342;",
                                   "@media (max-width: 768px) { .logo { background: url(logo@2x.png); } }",
                                   "timeout = 300000  # ms", "mac = '00:1A:2B:3C:4D:5E'", "0x7fff5fbff8c8"]),
    "coordinates": lambda f, r: f"{f.latitude()}, {f.longitude()}",
    "private_ip": lambda f, r: r.choice([f.ipv4_private(), "127.0.0.1", "::1", "fe80::1ff:fe23:4567:890a"]),
    "count": lambda f, r: r.choice([f"{r.randint(1_000_000, 99_999_999):,}", f"{r.randint(1_000_000, 99_999_999):,}".replace(",", "."),
                                    f"{r.randint(1_000_000, 99_999_999):,}".replace(",", " ")]) + " inhabitants",
    "address": lambda f, r: f.address().replace("\n", ", "),
    "bad_card": lambda f, r: _broken(_card(f, r), r),
    "bad_iban": lambda f, r: _broken(_iban(f, r), r),
}


def generate(n_docs: int, seed: int = 0) -> list[Doc]:
    """``n_docs`` documents; about 55% of snippets are PII, the rest hard negatives."""
    from faker import Faker

    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(seed * 100 + i)
    docs = []
    for _ in range(n_docs):
        doc = Doc()
        for _ in range(rng.randint(1, 4)):
            fake = fakers[rng.choice(LOCALES)]
            if doc.text:
                doc.text += rng.choice([" ", "\n", " - "])
            if rng.random() < 0.55:
                kind = rng.choice(list(POSITIVE_TEMPLATES))
                value, template, labels = positive(kind, fake, rng), rng.choice(POSITIVE_TEMPLATES[kind]), doc.spans
            else:
                kind = rng.choice(list(NEGATIVES))
                value, template, labels = NEGATIVES[kind](fake, rng), rng.choice(NEGATIVE_TEMPLATES), doc.negatives
            before, after = template.split("{v}")
            before = before.replace("{name}", fake.name())
            start = len(doc.text) + len(before)
            labels.append((kind, start, start + len(value)))
            doc.text += before + value + after.replace("{name}", fake.name())
        docs.append(doc)
    return docs


def score(docs: list[Doc], detections: list[list]) -> dict:
    """Per kind: tp, fp, fn, precision, recall (a detection counts when it overlaps a true span of
    its kind); and per negative category, how many of its values were (partly) detected."""
    from collections import Counter

    kinds = list(POSITIVE_TEMPLATES)
    tp, fp, fn, exact, fp_by = Counter(), Counter(), Counter(), Counter(), Counter()
    for doc, found in zip(docs, detections):
        matched = set()
        for kind, s, e in found:
            hit = [g for g in doc.spans if g[0] == kind and s < g[2] and g[1] < e and g not in matched]
            if hit:
                matched.add(hit[0])
                tp[kind] += 1
                exact[kind] += (s, e) == hit[0][1:]
            else:
                fp[kind] += 1
                cat = next((c for c, a, b in doc.negatives if s < b and a < e), "other")
                fp_by[f"{kind}<-{cat}"] += 1
        for g in doc.spans:
            fn[g[0]] += g not in matched
    out = {}
    for k in kinds:
        p = tp[k] / (tp[k] + fp[k]) if tp[k] + fp[k] else 1.0
        r = tp[k] / (tp[k] + fn[k]) if tp[k] + fn[k] else 1.0
        out[k] = {"tp": tp[k], "fp": fp[k], "fn": fn[k], "exact_spans": exact[k], "precision": p, "recall": r}
    out["false_positives_by_source"] = dict(sorted(fp_by.items()))
    return out
