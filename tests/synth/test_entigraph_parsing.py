import itertools

import pytest

from datamill.synth.parsing import clean_entities, close_truncated, parse_entities
from datamill.synth.prompts import DEFAULT_PROMPTS, entity_messages, prompt_hash, relation_messages, resolve_prompts
from datamill.synth.steps import pair_order, request_seed, triple_order


@pytest.mark.parametrize("reply, expected", [
    ('{"summary": "S.", "entities": ["A", "B"]}', ("S.", ["A", "B"])),
    ('```json\n{"summary": "S.", "entities": ["A", "B",]}\n```', ("S.", ["A", "B"])),  # fence, trailing comma
    ('Sure! {"summary": "S.", "entities": ["A"]} Anything else? {}', ("S.", ["A"])),  # prose around it
    ('{"summary": "S.", "entities": ["A", "B", "C', ("S.", ["A", "B", "C"])),  # cut at the token limit
    ('{"summary": "S.", "entities": [{"name": "A", "type": "person"}, {"title": "B"}]}', ("S.", ["A", "B"])),
    ('["A", "B"]', ("", ["A", "B"])),  # a bare list
    ('{"entities": ["A", "a", " A ", "", 3, "- B"]}', ("", ["A", "B"])),  # cleaned and deduplicated
    ('{summary: oops, "entities": ["A", "B" "C"]}', ("", ["A", "B", "C"])),  # invalid JSON: array salvaged
    # no JSON at all: a plain list (small models often answer this way)
    ("Summary: A keeper saves a crew.\n\nEntities:\n1. Mara Quill\n2. **Gull Rock** - an island\n3) the Aurora.",
     ("A keeper saves a crew.", ["Mara Quill", "Gull Rock", "the Aurora"])),
    ("- Mara Quill: the keeper\n* Tobias\n• Saltmere\n- mara quill", ("", ["Mara Quill", "Tobias", "Saltmere"])),
    ('{"summary": "S.",\n- A\n- B', ("S.", ["A", "B"])),  # a "{" prefill, then a list
])
def test_parse_entities_recovers(reply, expected):
    assert parse_entities(reply) == expected


@pytest.mark.parametrize("reply", ["no json here", '{"summary": "S.", "entities": []}', '{"summary": "S."}', "",
                                   "A story.\n\nIt has 2. chapters, - and dashes - in prose."])
def test_parse_entities_fails_without_entities(reply):
    assert parse_entities(reply) is None


def test_close_truncated_and_caps():
    assert close_truncated('{"a": ["x", "y\\') == '{"a": ["x", "y\\\\"]}'
    assert close_truncated('{"a": [1, 2,') == '{"a": [1, 2]}'
    assert clean_entities([f"e{i}" for i in range(10)], max_entities=3) == ["e0", "e1", "e2"]
    assert parse_entities('{"entities": ["a", "b", "c"]}', max_entities=2) == ("", ["a", "b"])


def test_pair_and_triple_orders_are_seeded_and_complete():
    assert pair_order(1, "d", 5, 0) == list(itertools.combinations(range(5), 2))
    sample = pair_order(1, "d", 10, 7)
    assert len(sample) == 7 and len(set(sample)) == 7 and sample == sorted(sample)
    assert sample == pair_order(1, "d", 10, 7) and sample != pair_order(2, "d", 10, 7)
    triples = triple_order(42, "d", 6)
    assert sorted(triples) == list(itertools.combinations(range(6), 3))  # a permutation of all triples
    assert triples == triple_order(42, "d", 6) and triples != triple_order(42, "other-doc", 6)
    assert request_seed(1, "d", "pair", ("a", "b")) != request_seed(1, "d", "pair", ("a", "b"), attempt=1)


def test_prompts_render_and_hash():
    p = resolve_prompts({})
    msgs = entity_messages(p, "T", "doc body")
    assert msgs[0]["role"] == "system" and '"entities"' in msgs[0]["content"]
    assert msgs[1]["content"] == "### Document Content:\ndoc body"
    rel = relation_messages(p, "T", "doc body", ("A", "B", "C"))
    assert rel[1]["content"].endswith("### Entities:\n- A\n- B\n- C")
    assert "Interaction between A, B and C in context of T" in rel[0]["content"]
    custom = resolve_prompts({"pair_system": "Relate {entity1} to {entity2} in {title}."})
    assert relation_messages(custom, "T", "d", ("A", "B"))[0]["content"] == "Relate A to B in T."
    assert prompt_hash(custom, "pair") != prompt_hash(p, "pair")
    assert prompt_hash(custom, "triple") == prompt_hash(p, "triple")
    assert set(DEFAULT_PROMPTS) == {"entities_system", "pair_system", "triple_system", "document_user",
                                    "entities_user_suffix"}
