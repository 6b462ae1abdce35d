"""``pii``: find e-mail addresses, phone numbers, public IP addresses, card numbers and IBANs.

Detection is a candidate regex per kind plus a validator (Luhn, ISO 13616 mod-97, libphonenumber
metadata, ``ipaddress.is_global``) and rules against look-alikes (dates, prices, versions, ISBNs,
order numbers), in ``pii_detectors.py`` / ``pii_phone.py``; the rules are in docs/METHODS.md.
Every document gets one ``pii_<kind>`` count column per configured kind (int32; the engine
histograms them). Then, by ``mode``:

- ``redact`` replaces each span with ``<EMAIL>``, ``<PHONE>``, ``<IP_ADDRESS>``,
  ``<CREDIT_CARD>`` or ``<IBAN>`` and keeps every document (no removal reasons), unless
  ``max_spans`` is set: Dolma removes documents with more than 5 spans (reason ``pii:too_many``);
- ``annotate`` keeps the text and every document; the engine counts ``pii:<kind>`` flags;
- ``drop`` removes documents with any span, reason ``pii:<kind>`` (first kind of ``KINDS`` found).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamill.filters import _text
from datamill.filters.pii_detectors import KINDS, PHONE_REGIONS, Kind, detect
from datamill.stage import Filter, require_column, set_columns

PLACEHOLDER = {kind: f"<{kind.upper()}>" for kind in KINDS}


@dataclasses.dataclass(frozen=True)
class PIIFilter(Filter):
    """Regex candidates checked by checksums and libphonenumber, then redacted, flagged or dropped;
    extends the e-mail/phone/IP masking of Dolma (Soldaini et al. 2024, §3) to cards and IBANs."""

    use: ClassVar[str] = "pii"
    version: ClassVar[str] = "1"
    writes: ClassVar[tuple[str, ...]] = ("text", *(f"pii_{kind}" for kind in KINDS))

    kinds: tuple[Kind, ...] = KINDS  # every detector this stage has; Dolma: email, phone, IP only
    mode: Literal["redact", "annotate", "drop"] = "redact"  # Dolma masks spans; NeMo Curator replaces with <TYPE>
    phone_regions: tuple[str, ...] = PHONE_REGIONS  # national formats (no +CC) tried: US/CA, UK, DE, FR, IN
    max_spans: int = 0  # redact mode: drop documents with more spans, reason pii:too_many (Dolma: 5); 0 = off

    def __post_init__(self):
        if not self.kinds:
            raise ValueError("pii: kinds is empty; name at least one of " + ", ".join(KINDS))
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"pii: kinds {list(self.kinds)} repeats a kind")
        import phonenumbers  # pure Python; its region list is small and loads without metadata

        unknown = [r for r in self.phone_regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"pii: unknown phone region(s) {unknown}; use ISO 3166 codes such as 'US', 'GB'")
        if self.max_spans < 0 or (self.max_spans and self.mode != "redact"):
            raise ValueError(f"pii: max_spans={self.max_spans} needs mode 'redact' and must be >= 0")
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "phone_regions", tuple(self.phone_regions))

    def annotate(self, table: pa.Table) -> pa.Table:
        values = _text.chunked(self._measure, _text.text_array(table))
        original = require_column(table, "text", self.use)
        if "text" in values and original.null_count:  # a missing text stays missing, not ""
            values["text"] = pc.if_else(pc.is_valid(original), values["text"], pa.scalar(None, pa.string()))
        return set_columns(table, values)

    def _measure(self, text: pa.Array) -> dict:
        counts = {kind: np.zeros(len(text), dtype=np.int32) for kind in self.kinds}
        redacted = []
        for row, doc in enumerate(text.to_pylist()):
            spans = [s for s in detect(doc, self.phone_regions) if s.kind in counts]
            for span in spans:
                counts[span.kind][row] += 1
            if self.mode == "redact":
                redacted.append(redact(doc, spans))
        values = {f"pii_{kind}": pa.array(c, pa.int32()) for kind, c in counts.items()}
        if self.mode == "redact":
            values = {"text": pa.array(redacted, pa.string()), **values}
        return values

    def reasons(self, table: pa.Table) -> pa.Array:
        out = np.full(table.num_rows, None, dtype=object)
        if self.mode == "redact":  # redacted documents are kept (but Dolma's too-many rule)
            if self.max_spans:
                total = sum(require_column(table, f"pii_{k}", self.use).to_numpy() for k in self.kinds)
                out[total > self.max_spans] = "pii:too_many"
            return pa.array(out, pa.string())
        for kind in reversed([k for k in KINDS if k in self.kinds]):  # first kind of KINDS wins
            found = require_column(table, f"pii_{kind}", self.use).to_numpy() > 0
            out[found] = f"pii:{kind}"
        return pa.array(out, pa.string())


def redact(text: str, spans) -> str:
    """``text`` with each (non-overlapping, sorted) span replaced by its kind's placeholder."""
    parts, end = [], 0
    for span in spans:
        parts += [text[end:span.start], PLACEHOLDER[span.kind]]
        end = span.end
    return "".join(parts) + text[end:]
