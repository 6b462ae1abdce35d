"""Build a config dataclass from a mapping with errors that name the place and the key."""

from __future__ import annotations

import dataclasses
import typing

import pydantic


class ConfigError(ValueError):
    """A config problem found before any work runs."""


def build(cls: type, fields: dict, where: str):
    """Each value is checked strictly against its field's annotation (no str -> number coercion);
    YAML lists become tuples for tuple fields, mappings become nested config dataclasses."""
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed keys: {sorted(allowed)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in fields.items():
        expected = hints[key]
        if dataclasses.is_dataclass(expected) and isinstance(value, dict):
            values[key] = build(expected, value, f"{where}, key {key!r}")
            continue
        if isinstance(value, list) and typing.get_origin(expected) is tuple:
            value = tuple(value)
        try:
            values[key] = pydantic.TypeAdapter(expected).validate_python(value, strict=True)
        except pydantic.ValidationError as e:
            msg = "; ".join(err["msg"] for err in e.errors()[:3])
            raise ConfigError(f"{where}: key {key!r}: {msg} (got {value!r}; expected "
                              f"{_describe(expected)})") from None
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:  # raised by a dataclass's __post_init__
        raise ConfigError(f"{where}: {e}") from None


def _describe(t) -> str:
    if typing.get_origin(t) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(t))
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")
