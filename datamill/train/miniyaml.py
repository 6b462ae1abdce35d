"""The YAML subset the trainer configs use, for machines without PyYAML: nested block mappings,
block lists (``- x``), flow lists/maps (``[a, b]``, ``{a: 1}``), scalars and ``#`` comments.
Anything else (anchors, multi-line strings) raises with the line number."""

from __future__ import annotations

import json
import re

_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


def scalar(text: str):
    text = text.strip()
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text[0] in "\"'":
        return json.loads(text) if text[0] == '"' else text[1:-1].replace("''", "'")
    if text[0] == "[":
        return [scalar(p) for p in _split_flow(text[1:-1])]
    if text[0] == "{":
        return {k.strip(): scalar(v) for k, v in (p.split(":", 1) for p in _split_flow(text[1:-1]))}
    if re.fullmatch(r"[-+]?\d+", text.replace("_", "")):
        return int(text.replace("_", ""))
    if _FLOAT.match(text.replace("_", "")):
        return float(text.replace("_", ""))
    return text


def _split_flow(body: str) -> list[str]:
    parts, depth, cur, quote = [], 0, "", ""
    for ch in body:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    return [p for p in parts + [cur] if p.strip()]


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def parse(text: str):
    lines = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if line.strip() and line.strip() != "---":
            if line.lstrip().startswith(("&", "*", "|", ">", "!")):
                raise ValueError(f"line {n}: YAML feature not supported without PyYAML: {raw.strip()!r}")
            lines.append((len(line) - len(line.lstrip()), line.strip(), n))
    value, pos = _block(lines, 0, lines[0][0] if lines else 0)
    if pos != len(lines):
        raise ValueError(f"line {lines[pos][2]}: unexpected indentation")
    return value


def _block(lines, pos, indent):
    if pos >= len(lines):
        return None, pos
    if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
        out = []
        while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("-"):
            item = lines[pos][1][1:].strip()
            if item:
                out.append(scalar(item))
                pos += 1
            else:
                value, pos = _block(lines, pos + 1, lines[pos + 1][0] if pos + 1 < len(lines) else indent + 2)
                out.append(value)
        return out, pos
    out = {}
    while pos < len(lines) and lines[pos][0] == indent:
        _, content, n = lines[pos]
        key, sep, rest = content.partition(":")
        if not sep or (rest and not rest.startswith(" ")):
            raise ValueError(f"line {n}: expected 'key: value', got {content!r}")
        key = scalar(key) if key.strip()[0] in "\"'" else key.strip()
        pos += 1
        if rest.strip()[:1] in ("&", "*", "|", ">", "!"):
            raise ValueError(f"line {n}: YAML feature not supported without PyYAML: {content!r}")
        if rest.strip():
            out[key] = scalar(rest)
        elif pos < len(lines) and (lines[pos][0] > indent or
                                   (lines[pos][0] == indent and lines[pos][1].startswith("-"))):
            out[key], pos = _block(lines, pos, lines[pos][0])
        else:
            out[key] = None
    return out, pos
