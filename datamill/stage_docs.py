"""``datamill stages [NAME]``: every stage in the catalog, and one stage's parameters with their
defaults and the comment that explains each, read from the stage's dataclass source."""

from __future__ import annotations

import dataclasses
import inspect
import io
import tokenize
import types
import typing

from datamill.catalog import STAGES
from datamill.stage import Stage, StageArtifact
from datamill.typed_config import is_file_path


def field_comments(cls: type) -> dict[str, str]:
    """``name: type = default  # comment`` lines of ``cls`` and its dataclass bases -> comment."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is Stage:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        names = {f.name for f in dataclasses.fields(klass)}
        line_field: dict[int, str] = {}
        above: list[str] = []  # comment lines directly above a field explain it when it has none inline
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.string in names:
                line_field.setdefault(tok.start[0], tok.string)
                if above:
                    out[tok.string] = " ".join(above)
            elif tok.type == tokenize.COMMENT and tok.start[0] in line_field:
                out[line_field[tok.start[0]]] = tok.string.lstrip("#").strip()
            elif tok.type == tokenize.COMMENT and tok.line[:tok.start[1]].strip() == "":
                above.append(tok.string.lstrip("#").strip())
                continue
            if tok.type not in (tokenize.NL, tokenize.COMMENT):
                above = [] if tok.type != tokenize.INDENT else above
    return out


def _type_name(hint) -> str:
    """A field's type as a config author reads it: ``path | {stage: NAME}``, ``float | None``,
    ``'drop' | 'annotate'``, ``dict[str, float]``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        # FilePath / ModelRef: their marker says "path" or "path or name"
        return repr(hint.__metadata__[0]) if is_file_path(hint) else _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if hint is StageArtifact:
        return "{stage: NAME}"
    if hint is type(None):
        return "None"
    if origin is not None and args:  # list[str], tuple[str, ...], dict[str, float]
        return f"{origin.__name__}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    return "(required)"


def _doc(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return "" if doc.startswith(f"{cls.__name__}(") else doc  # dataclasses make up a signature


def describe(name: str) -> str:
    if name not in STAGES:
        raise KeyError(f"no stage {name!r}; stages: {', '.join(sorted(STAGES))}")
    cls = STAGES[name]
    hints = typing.get_type_hints(cls, include_extras=True)
    comments = field_comments(cls)
    doc = _doc(cls)
    lines = [f"{name}  ({cls.kind} stage, {cls.__module__}.{cls.__name__})"]
    lines += [f"  {d}" for d in doc.splitlines()] if doc else []
    lines.append(f"  reads: {', '.join(cls.reads) or '-'}   writes: {', '.join(cls.writes) or '-'}")
    lines.append("")
    for f in dataclasses.fields(cls):
        lines.append(f"  {f.name}: {_type_name(hints[f.name])} = {_default(f)!r}")
        if comments.get(f.name):
            lines.append(f"      {comments[f.name]}")
        lines += _section_lines(hints[f.name])
    return "\n".join(lines)


def _section_lines(hint) -> list[str]:
    """The fields of a ``dict[str, Section]`` field's sections (decontaminate's references)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is not dict or len(args) != 2 or not dataclasses.is_dataclass(args[1]):
        return []
    section, hints, comments = args[1], typing.get_type_hints(args[1], include_extras=True), field_comments(args[1])
    lines = [f"      each value: {section.__name__}"]
    for f in dataclasses.fields(section):
        lines.append(f"        {f.name}: {_type_name(hints[f.name])} = {_default(f)!r}")
        if comments.get(f.name):
            lines.append(f"            {comments[f.name]}")
    return lines


def summary() -> str:
    width = max(map(len, STAGES))
    rows = []
    for name in sorted(STAGES):
        cls = STAGES[name]
        doc = _doc(cls).split("\n\n")[0].replace("\n", " ")
        rows.append(f"{name:<{width}}  {cls.kind:<6}  {doc}")
    return "\n".join(rows)
