"""Default EntiGraph prompt templates, written for datamill after the structure of Yang et al. 2024's prompts (docs/METHODS.md, "EntiGraph synthesis").

Every request is a system message plus a user message. The user message is the document,
followed for the relation steps by the entities as a bullet list. Templates are Python
``str.format`` strings (literal braces doubled: ``{{`` ``}}``); the fields available to each
are listed next to it. A config overrides any of them with ``prompts: {key: template}``.
"""

from __future__ import annotations

import hashlib
import json
import string

# fields: none
ENTITIES_SYSTEM = """\
You read documents closely and map out what they are about. Given a document, do two things.
1. Write a short summary of the whole document in a few sentences.
2. List every significant entity the document mentions: people and characters, places (real or \
imagined, specific or abstract), organisations, objects, events, and the central ideas and themes. \
Be exhaustive: a later step writes about how each pair of these entities relates, so list as many \
as the document supports, each as a short noun phrase taken from the document.
Answer with one JSON object and nothing else, in exactly this form:
{{"summary": "<summary>", "entities": ["<entity 1>", "<entity 2>", "..."]}}"""

# The reply shape ENTITIES_SYSTEM asks for; enforced where the backend can (vLLM structured
# outputs, the transformers backend's grammar mask). The length bounds keep a small model from
# spending its whole token budget inside the summary or one entity name.
ENTITIES_SCHEMA = json.dumps({
    "type": "object", "required": ["summary", "entities"], "additionalProperties": False,
    "properties": {"summary": {"type": "string", "maxLength": 1500},
                   "entities": {"type": "array", "minItems": 2,
                                "items": {"type": "string", "minLength": 1, "maxLength": 80}}},
})

# fields: title, entity1, entity2
PAIR_SYSTEM = """\
You will be given a document and two entities that appear in it. Help a reader understand the \
document through these two entities. First retell the parts of the document that concern \
"{entity1}", then the parts that concern "{entity2}", and finally explain how the two are \
connected in the document: what they do to, say about, or mean for each other. Mention the \
document's title, "{title}", so that each part makes sense on its own. Write in this format:
### Discussion of {title} in relation to {entity1}
<text>
### Discussion of {title} in relation to {entity2}
<text>
### Discussion of Interaction between {entity1} and {entity2} in context of {title}
<text>"""

# fields: title, entity1, entity2, entity3
TRIPLE_SYSTEM = """\
You will be given a document and three entities that appear in it. Help a reader understand the \
document through these three entities. Retell the parts of the document that concern each \
entity in turn, then explain how all three are connected in the document. Mention the \
document's title, "{title}", so that each part makes sense on its own. Write in this format:
### Discussion of {title} in relation to {entity1}
<text>
### Discussion of {title} in relation to {entity2}
<text>
### Discussion of {title} in relation to {entity3}
<text>
### Discussion of Interaction between {entity1}, {entity2} and {entity3} in context of {title}
<text>"""

# fields: title, document
DOCUMENT_USER = "### Document Content:\n{document}"

# fields: entity_list (one "- entity" line per entity)
ENTITIES_USER_SUFFIX = "\n### Entities:\n{entity_list}"

DEFAULT_PROMPTS: dict[str, str] = {
    "entities_system": ENTITIES_SYSTEM,
    "pair_system": PAIR_SYSTEM,
    "triple_system": TRIPLE_SYSTEM,
    "document_user": DOCUMENT_USER,
    "entities_user_suffix": ENTITIES_USER_SUFFIX,
}

# Which fields each template may use: an override that names another field is a config error.
FIELDS: dict[str, set[str]] = {
    "entities_system": set(),
    "pair_system": {"title", "entity1", "entity2"},
    "triple_system": {"title", "entity1", "entity2", "entity3"},
    "document_user": {"title", "document"},
    "entities_user_suffix": {"entity_list"},
}

# The templates that shape each kind of output row (their hash goes into `prompt_hash`).
TEMPLATES_BY_KIND: dict[str, tuple[str, ...]] = {
    "summary": ("entities_system", "document_user"),
    "pair": ("pair_system", "document_user", "entities_user_suffix"),
    "triple": ("triple_system", "document_user", "entities_user_suffix"),
}


def resolve_prompts(overrides: dict[str, str], stage: str = "entigraph") -> dict[str, str]:
    """Defaults with ``overrides`` applied; unknown keys and unknown fields are errors."""
    prompts = dict(DEFAULT_PROMPTS)
    for key, template in overrides.items():
        if key not in DEFAULT_PROMPTS:
            raise ValueError(f"stage {stage}: unknown prompt key {key!r}; allowed: {sorted(DEFAULT_PROMPTS)}")
        if not isinstance(template, str):
            raise TypeError(f"stage {stage}: prompts.{key} must be a string, got {type(template).__name__}")
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        if unknown := used - FIELDS[key]:
            raise ValueError(f"stage {stage}: prompts.{key} uses unknown fields {sorted(unknown)}; "
                             f"allowed: {sorted(FIELDS[key])}")
        prompts[key] = template
    return prompts


def prompt_hash(prompts: dict[str, str], kind: str) -> str:
    """A short stable hash of the templates behind one kind of row (summary / pair / triple)."""
    h = hashlib.sha256()
    for key in TEMPLATES_BY_KIND[kind]:
        h.update(key.encode() + b"\0" + prompts[key].encode() + b"\0")
    return h.hexdigest()[:16]


def entity_messages(prompts: dict[str, str], title: str, document: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": prompts["entities_system"].format()},
        {"role": "user", "content": prompts["document_user"].format(title=title, document=document)},
    ]


def relation_messages(prompts: dict[str, str], title: str, document: str,
                      entities: tuple[str, ...]) -> list[dict[str, str]]:
    """Messages for a pair (2 entities) or triple (3 entities) relation request."""
    key = {2: "pair_system", 3: "triple_system"}[len(entities)]
    names = {f"entity{i + 1}": e for i, e in enumerate(entities)}
    user = (prompts["document_user"].format(title=title, document=document)
            + prompts["entities_user_suffix"].format(entity_list="\n".join(f"- {e}" for e in entities)))
    return [
        {"role": "system", "content": prompts[key].format(title=title, **names)},
        {"role": "user", "content": user},
    ]
