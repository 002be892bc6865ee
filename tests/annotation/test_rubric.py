"""Rubric files and specs: what is accepted, what each refusal says (with its line), the
values each item takes, and the stored spec rebuilding the same rubric."""

from __future__ import annotations

import pytest

from aeries.annotation.rubric import RubricError, from_spec, parse_rubric_toml

GOOD = """
name = "Answer quality"
instructions = "Read the conversation up to the answer, then rate the answer."

[[items]]
key = "helpful"
prompt = "How helpful is the answer?"
kind = "likert"
labels = ["Not at all", "A little", "Somewhat", "Very", "Extremely"]
observer = "satisfaction"

[[items]]
key = "tone"
prompt = "What is the answer's tone?"
kind = "categorical"
options = ["warm", "neutral", "cold"]

[[items]]
key = "corrected"
prompt = "Does the user correct the assistant?"
kind = "boolean"
observer = "correction"

[[items]]
key = "why"
prompt = "Anything else?"
kind = "text"
required = false
"""


def test_a_rubric_file_gives_its_items_levels_and_values() -> None:
    rubric = parse_rubric_toml(GOOD)
    assert rubric.name == "Answer quality"
    assert [i.key for i in rubric.items] == ["helpful", "tone", "corrected", "why"]
    helpful, tone, corrected, why = rubric.items
    assert (helpful.level, helpful.values) == ("ordinal", ("1", "2", "3", "4", "5"))
    assert (tone.level, tone.values) == ("nominal", ("warm", "neutral", "cold"))
    assert (corrected.level, corrected.values) == ("nominal", ("true", "false"))
    assert (why.level, why.values) == (None, ())
    assert helpful.observer == "satisfaction" and tone.observer is None


def test_the_stored_spec_rebuilds_the_same_rubric() -> None:
    rubric = parse_rubric_toml(GOOD)
    assert from_spec(rubric.spec()) == rubric


def test_labels_are_checked_against_the_items() -> None:
    rubric = parse_rubric_toml(GOOD)
    stored = rubric.check({"helpful": " 4 ", "tone": "warm", "corrected": "false"})
    assert stored == {"helpful": "4", "tone": "warm", "corrected": "false", "why": None}
    with pytest.raises(RubricError, match="takes one of 1, 2, 3, 4, 5"):
        rubric.check({"helpful": "6", "tone": "warm", "corrected": "true"})
    with pytest.raises(RubricError, match="needs an answer"):
        rubric.check({"helpful": "3", "corrected": "true"})
    with pytest.raises(RubricError, match="no item 'extra'"):
        rubric.check({"helpful": "3", "tone": "cold", "corrected": "true", "extra": "x"})


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (('kind = "likert"', 'kind = "stars"'), "Item kind must be one of", 8),
        (
            (
                'labels = ["Not at all", "A little", "Somewhat", "Very", "Extremely"]',
                'labels = ["Only"]',
            ),
            "needs 2–11 labels",
            9,
        ),
        (
            ('options = ["warm", "neutral", "cold"]', 'options = ["warm"]'),
            "at least two options",
            16,
        ),
        (('observer = "correction"', 'observer = "satisfaction"'), "must be a likert item", 22),
        (('key = "tone"', 'key = "Tone!"'), "must be lower-case", 13),
        (('key = "tone"', 'key = "helpful"'), "Two items have the key 'helpful'", None),
        (("required = false", "requried = false"), "Unknown key `items.3.requried`", 28),
        (('name = "Answer quality"', 'name = ""'), "`name` is required", 2),
    ],
)
def test_a_bad_rubric_is_refused_with_its_line(
    change: tuple[str, str], message: str, line: int | None
) -> None:
    with pytest.raises(RubricError) as caught:
        parse_rubric_toml(GOOD.replace(*change, 1))
    assert message in caught.value.message
    assert caught.value.line == line


def test_not_toml_and_no_items_are_clear_messages() -> None:
    with pytest.raises(RubricError, match="not valid TOML"):
        parse_rubric_toml("name = ")
    with pytest.raises(RubricError, match="at least one"):
        parse_rubric_toml('name = "x"')
