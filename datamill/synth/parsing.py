"""Robust parsing of the entity-extraction reply ``{"summary": ..., "entities": [...]}``.

Models wrap JSON in code fences, add prose around it, leave trailing commas, or stop mid-way
at the token limit. We try, in order: the first complete ``{...}``; the text from the first
``{`` to the end, then to the last ``}``, each as is, without trailing commas, and with
unterminated strings and brackets closed; then the quoted strings (not keys) inside an
``"entities": [`` array; last, a reply with no JSON at all: its bulleted or numbered lines are
the entities and the prose before them the summary. An object without an "entities" key gives
its first list of names. A reply that yields no entity is a parse failure (the stage re-samples).
"""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"```[a-zA-Z]*")
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_ENTITIES_ARRAY = re.compile(r'"entities"\s*:\s*\[(.*?)(?:\]|$)', re.S)
_SUMMARY = re.compile(r'"summary"\s*:\s*"((?:[^"\\]|\\.)*)"', re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(?!\s*:)')  # a string that is not a key
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+(.+?)\s*$")  # "- name", "* name", "1. name", "2) name"
_LIST_LABEL = re.compile(r"^\s*\**\s*(summary|entities)\s*\**\s*:\s*\**\s*", re.I)


def close_truncated(s: str) -> str:
    """Close an unterminated string and any open brackets of a JSON prefix."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in s:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    if in_string:
        s += "\\" if escaped else ""
        s += '"'
    s = s.rstrip().rstrip(",:")  # a dangling separator cannot be closed
    return s + "".join(reversed(stack))


def _loads(candidate: str):
    for text in (candidate, _TRAILING_COMMA.sub(r"\1", candidate),
                 _TRAILING_COMMA.sub(r"\1", close_truncated(candidate))):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            continue
    return None


def clean_entities(items, max_entities: int, max_chars: int = 200) -> list[str]:
    """Strings only, stripped of whitespace and bullets, deduplicated case-insensitively, in order."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):  # {"name": ...}, {"entity": ...}, ...: the first string value
            item = next((v for k in ("name", "entity", "title", "text") if isinstance(v := item.get(k), str)),
                        next((v for v in item.values() if isinstance(v, str)), None))
        if not isinstance(item, str):
            continue
        name = " ".join(item.strip().lstrip("-*•").split())
        if not name or len(name) > max_chars or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        out.append(name)
        if len(out) == max_entities:
            break
    return out


def parse_entities(text: str, max_entities: int = 100) -> tuple[str, list[str]] | None:
    """(summary, entities) or None when no entity can be recovered."""
    body = _FENCE.sub("", text)
    start = body.find("{")
    obj = None
    if start >= 0:
        try:  # the first complete object, ignoring whatever follows it
            obj = json.JSONDecoder().raw_decode(body, start)[0]
        except json.JSONDecodeError:
            end = body.rfind("}")
            for candidate in [body[start:]] + ([body[start:end + 1]] if end > start else []):
                obj = _loads(candidate)
                if obj is not None:
                    break
    elif body.lstrip().startswith("["):  # a bare list of entities
        obj = {"entities": _loads(body.strip())}
    if isinstance(obj, dict):
        entities = clean_entities(obj.get("entities", _any_list(obj)), max_entities)
        summary = obj.get("summary")
        if entities:
            return (summary.strip() if isinstance(summary, str) else ""), entities
    match = _ENTITIES_ARRAY.search(body)
    if match:
        entities = clean_entities([_unescape(q) for q in _QUOTED.findall(match.group(1))], max_entities)
        if entities:
            summary = _SUMMARY.search(body)
            return (_unescape(summary.group(1)).strip() if summary else ""), entities
    return _plain_list(body, max_entities)


def _plain_list(body: str, max_entities: int) -> tuple[str, list[str]] | None:
    """A reply written as a list: the bulleted/numbered lines are entities (markdown bold and a
    trailing " - description" or ": description" dropped); non-item lines before the first item
    are the summary ("Summary:"/"Entities:" labels dropped)."""
    prose, items = [], []
    for line in body.splitlines():
        match = _LIST_ITEM.match(line)
        if match:
            name = re.split(r"\s+[-–—]\s+|:\s", match.group(1).replace("**", ""), maxsplit=1)[0]
            items.append(name.strip().strip('"').rstrip(".,;:"))
        elif not items and line.strip():
            prose.append(_LIST_LABEL.sub("", line).strip())
    entities = clean_entities(items, max_entities)
    summary = _SUMMARY.search(body)  # a '"summary": "..."' started as JSON, then a list
    summary = _unescape(summary.group(1)).strip() if summary else " ".join(p for p in prose if p)
    return (summary, entities) if entities else None


def _any_list(obj, depth: int = 0):
    """Without an "entities" key: the first list of strings or named objects, depth first
    (small models nest their list under keys of their own choosing)."""
    if depth > 5:
        return None
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ()
    if isinstance(obj, list) and obj and all(isinstance(v, (str, dict)) for v in obj) and clean_entities(obj, 1):
        return obj
    for value in values:
        if isinstance(value, (dict, list)) and (found := _any_list(value, depth + 1)) is not None:
            return found
    return None


def _unescape(s: str) -> str:
    try:
        return json.loads(f'"{s}"')
    except json.JSONDecodeError:
        return s
