"""`datamill stages NAME` prints each parameter's type as a config author writes it."""

from datamill.stage_docs import describe


def _type_of(stage: str, field: str) -> str:
    line = next(line for line in describe(stage).splitlines() if line.startswith(f"  {field}: "))
    return line.removeprefix(f"  {field}: ").rsplit(" = ", 1)[0]


def test_union_members_are_printed_not_the_word_union():
    assert _type_of("quality_filter", "model") == "path | {stage: NAME}"
    assert _type_of("quality_filter", "threshold") == "float | None"
    assert _type_of("language_filter", "min_score") == "float | dict[str, float]"


def test_paths_literals_and_containers_keep_their_parts():
    assert _type_of("embed", "model") == "path or name"
    assert _type_of("quality_filter", "mode") == "'drop' | 'annotate'"
    assert _type_of("gopher_quality", "disable") == "tuple[str, ...]"
    assert _type_of("train_classifier", "hyperparameters") == "dict[str, int | float]"
