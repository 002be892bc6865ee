"""Tests for aeries.studies.spec: a realistic study file parses into the values it says, every
refusal names the line of the key at fault, and config_hash follows meaning, not formatting.

Expected line numbers are found in the text (``line_of``), so editing the example keeps them
right; a test that edits the text replaces one exact line and checks the replacement landed.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from aeries.studies.spec import (
    Assignment,
    ChatTask,
    Condition,
    Exits,
    Item,
    Platform,
    Study,
    StudyFileError,
    exit_code,
    parse_study,
)

STUDY = '''\
# A between-subjects study: does a warmer assistant change trust?
id = "warmth-trust"
title = "Chatting with an assistant"
reference = "neutral"
tasks = ["chat"]
consent = """
## Consent

You are invited to take part in a study on **conversational assistants**.

- It takes about 15 minutes.
- You may stop at any time; your answers are then deleted.

[Contact the researchers](mailto:study@example.org) with questions.
"""
instructions = """
Chat with the assistant about *planning a trip*.
Ask at least three questions, then press **Finish**.
"""

[chat]
min_turns = 3
min_minutes = 2
max_turns = 20

[[conditions]]
name = "neutral"
description = "The default assistant"
model = "sim-llama-3.1-8b"
system_prompt = "You are a helpful assistant."
temperature = 0.7

[[conditions]]
name = "warm"
description = "Warm, personal tone"
model = "sim-llama-3.1-8b"
system_prompt = "You are a warm, friendly assistant who uses the user's name."
temperature = 0.9
top_p = 0.95
max_tokens = 512

[[conditions]]
name = "brief"
description = "Neutral, with the learned brief"
model = "sim-qwen-2.5-7b"
temperature = 0.7
brief = true
thinking = false

[[pre]]
id = "experience"
kind = "single"
text = "How often do you use AI assistants?"
options = ["Never", "Monthly", "Weekly", "Daily"]
screen_out = ["Never"]

[[pre]]
id = "trust_pre"
kind = "likert"
text = "I trust AI assistants to give correct answers."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[pre]]
id = "age"
kind = "numeric"
text = "How old are you?"
min = 18
max = 99

[[pre]]
id = "attention_pre"
kind = "single"
text = "To show you are reading, pick “Blue”."
options = ["Red", "Green", "Blue"]
correct = "Blue"

[[post]]
id = "trust_post"
kind = "likert"
text = "I trusted the assistant's answers."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[post]]
id = "features"
kind = "multiple"
text = "Which of these did the assistant do?"
options = ["Asked questions", "Used my name", "Gave sources"]
required = false

[[post]]
id = "comments"
kind = "text"
text = "Anything else you want to tell us?"
required = false

[assignment]
method = "blocks"
seed = 20240501
blocks_of = 2
cap = 60

[exits]
completed = "C1A2B3"
declined = "DECL01"
screened_out = "SCRN01"
failed_attention = "ATTN01"
timed_out = "TIME01"
redirect = "https://app.prolific.com/submissions/complete?cc={code}&s={SESSION_ID}"
time_limit_minutes = 45
max_attention_failures = 1

[platform]
participant_param = "PROLIFIC_PID"
keep = ["STUDY_ID", "SESSION_ID"]
'''


def line_of(text: str, pattern: str, occurrence: int = 1) -> int:
    """The 1-based number of the ``occurrence``-th line that starts with ``pattern``
    (after indentation)."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(pattern)]
    assert len(found) >= occurrence, f"{pattern!r} occurs {len(found)} times"
    return found[occurrence - 1]


def replace(text: str, old: str, new: str, count: int = 1) -> str:
    """``text`` with ``old`` replaced exactly ``count`` times (fails if it is not there)."""
    assert text.count(old) >= count, f"{old!r} not in the study text"
    return text.replace(old, new, count)


def replace_nth(text: str, old: str, new: str, n: int) -> str:
    """``text`` with the ``n``-th occurrence of ``old`` replaced."""
    parts = text.split(old)
    assert len(parts) > n, f"{old!r} occurs fewer than {n} times"
    return old.join(parts[:n]) + new + old.join(parts[n:])


def refusal(text: str) -> StudyFileError:
    with pytest.raises(StudyFileError) as caught:
        parse_study(text)
    return caught.value


# --- the valid file -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study() -> Study:
    return parse_study(STUDY)


def test_top_level_values(study: Study) -> None:
    assert study.id == "warmth-trust"
    assert study.title == "Chatting with an assistant"
    assert study.reference == "neutral"
    assert study.tasks == ("chat",)
    assert study.chat == ChatTask(min_turns=3, min_minutes=2.0, max_turns=20)


def test_markdown_texts_are_kept_and_trimmed(study: Study) -> None:
    assert study.consent.startswith("## Consent\n\nYou are invited")
    assert "- It takes about 15 minutes.\n- You may stop" in study.consent
    assert study.consent.endswith(
        "[Contact the researchers](mailto:study@example.org) with questions."
    )
    assert study.instructions == (
        "Chat with the assistant about *planning a trip*.\n"
        "Ask at least three questions, then press **Finish**."
    )


def test_conditions(study: Study) -> None:
    assert study.conditions == (
        Condition(
            name="neutral",
            description="The default assistant",
            model="sim-llama-3.1-8b",
            system_prompt="You are a helpful assistant.",
            temperature=0.7,
        ),
        Condition(
            name="warm",
            description="Warm, personal tone",
            model="sim-llama-3.1-8b",
            system_prompt="You are a warm, friendly assistant who uses the user's name.",
            temperature=0.9,
            top_p=0.95,
            max_tokens=512,
        ),
        Condition(
            name="brief",
            description="Neutral, with the learned brief",
            model="sim-qwen-2.5-7b",
            temperature=0.7,
            brief=True,
            thinking=False,
        ),
    )
    assert study.condition("warm").max_tokens == 512
    assert isinstance(study.condition("neutral").temperature, float)


def test_pre_items(study: Study) -> None:
    experience, trust, age, attention = study.pre
    assert experience == Item(
        id="experience",
        kind="single",
        text="How often do you use AI assistants?",
        required=True,
        options=("Never", "Monthly", "Weekly", "Daily"),
        screen_out=("Never",),
    )
    assert trust.kind == "likert"
    assert trust.scale == ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")
    assert trust.choices() == trust.scale and trust.options == ()
    assert trust.required and not trust.is_attention_check
    assert (age.kind, age.minimum, age.maximum) == ("numeric", 18.0, 99.0)
    assert attention.correct == "Blue" and attention.is_attention_check
    assert attention.choices() == ("Red", "Green", "Blue")


def test_post_items(study: Study) -> None:
    assert [(i.id, i.kind, i.required) for i in study.post] == [
        ("trust_post", "likert", True),
        ("features", "multiple", False),
        ("comments", "text", False),
    ]
    assert study.item("features") is study.post[1]
    assert study.item("age") is study.pre[2]
    assert study.item("nothing") is None


def test_assignment_exits_platform(study: Study) -> None:
    assert study.assignment == Assignment(method="blocks", seed=20240501, blocks_of=2, cap=60)
    assert study.exits == Exits(
        codes={
            "completed": "C1A2B3",
            "declined": "DECL01",
            "screened_out": "SCRN01",
            "failed_attention": "ATTN01",
            "timed_out": "TIME01",
        },
        redirect="https://app.prolific.com/submissions/complete?cc={code}&s={SESSION_ID}",
        time_limit_minutes=45.0,
        max_attention_failures=1,
    )
    assert study.platform == Platform("PROLIFIC_PID", ("STUDY_ID", "SESSION_ID"))
    assert exit_code(study, "screened_out") == "SCRN01"


MINIMAL = """\
id = "tiny"
title = "Tiny"
consent = "Do you agree?"

[[conditions]]
name = "only"

[exits]
completed = "DONE"
"""


def test_defaults_of_a_minimal_file() -> None:
    study = parse_study(MINIMAL)
    assert study.tasks == ("chat",)
    assert study.reference == "only"  # the first condition
    assert study.instructions == ""
    assert study.chat == ChatTask(min_turns=1, min_minutes=0.0, max_turns=None)
    assert study.assignment == Assignment(method="blocks", seed=0, blocks_of=1)
    assert study.exits == Exits(codes={"completed": "DONE"})
    assert study.platform == Platform("PROLIFIC_PID", ("STUDY_ID", "SESSION_ID"))
    assert study.pre == () and study.post == ()
    assert exit_code(study, "declined") is None


def test_stratified_on_a_required_single_choice_item() -> None:
    text = replace(STUDY, 'method = "blocks"', 'method = "stratified"\nstratify_by = "experience"')
    study = parse_study(text)
    assert study.assignment.method == "stratified"
    assert study.assignment.stratify_by == "experience"


# --- refusals name the line of what is wrong -----------------------------------------------------


def test_unknown_top_level_key() -> None:
    text = replace(STUDY, 'reference = "neutral"\n', 'reference = "neutral"\nrefrence = "warm"\n')
    err = refusal(text)
    assert err.line == line_of(text, "refrence =")
    assert "refrence" in err.message
    assert str(err).startswith(f"Line {err.line}: ")


def test_unknown_key_inside_the_second_condition() -> None:
    text = replace(STUDY, "top_p = 0.95\n", "top_p = 0.95\ntemprature = 0.2\n")
    err = refusal(text)
    assert err.line == line_of(text, "temprature =")
    assert "conditions.1.temprature" in err.message


def test_unknown_key_inside_an_item() -> None:
    text = replace(STUDY, "min = 18\n", "min = 18\nstep = 1\n")
    err = refusal(text)
    assert err.line == line_of(text, "step =")


def test_unknown_key_in_a_table() -> None:
    text = replace(STUDY, "blocks_of = 2\n", "blocks_of = 2\nblock_size = 6\n")
    err = refusal(text)
    assert err.line == line_of(text, "block_size =")


def test_missing_conditions() -> None:
    text = re.sub(r"\[\[conditions\]\].*?(?=\[\[pre\]\])", "", STUDY, flags=re.S)
    text = replace(text, 'reference = "neutral"\n', "")
    assert "[[conditions]]" not in text
    err = refusal(text)
    assert "[[conditions]]" in err.message
    assert err.line is None  # nothing to point at: the tables are missing


def test_duplicate_condition_names() -> None:
    text = replace(STUDY, 'name = "brief"', 'name = "warm"')
    err = refusal(text)
    assert "'warm'" in err.message
    # The second "warm" (the third [[conditions]] table): its header or its name line.
    assert err.line in (line_of(text, "[[conditions]]", 3), line_of(text, 'name = "warm"', 2))


def test_duplicate_item_ids_across_pre_and_post() -> None:
    text = replace(STUDY, 'id = "comments"', 'id = "age"')
    err = refusal(text)
    assert "'age'" in err.message and "twice" in err.message
    assert err.line == line_of(text, 'id = "age"', 2)  # the one in [[post]]


def test_duplicate_item_ids_within_pre() -> None:
    text = replace(STUDY, 'id = "age"', 'id = "trust_pre"')
    err = refusal(text)
    assert err.line == line_of(text, 'id = "trust_pre"', 2)


def test_likert_scale_with_one_label() -> None:
    old = 'scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]'
    text = replace(STUDY, old, 'scale = ["Agree"]')  # the first one: trust_pre
    err = refusal(text)
    assert "'trust_pre'" in err.message and "2 to 11" in err.message
    assert err.line == line_of(text, 'scale = ["Agree"]')


def test_likert_scale_with_twelve_labels() -> None:
    old = 'scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]'
    labels = ", ".join(f'"{n}"' for n in range(1, 13))
    text = replace(STUDY, old, f"scale = [{labels}]")
    assert refusal(text).line == line_of(text, 'scale = ["1"')
    eleven = ", ".join(f'"{n}"' for n in range(1, 12))
    assert len(parse_study(replace(STUDY, old, f"scale = [{eleven}]")).pre[1].scale) == 11


def test_likert_scale_repeating_a_label() -> None:
    old = 'scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]'
    repeated = 'scale = ["Disagree", "Neutral", "Agree", "Agree", "Strongly agree"]'
    text = replace_nth(STUDY, old, repeated, 2)  # the scale of trust_post
    err = refusal(text)
    assert "'trust_post'" in err.message and "repeats" in err.message
    assert err.line == line_of(text, repeated)
    assert err.line > line_of(text, "[[post]]")


def test_correct_answer_not_among_the_choices() -> None:
    text = replace(STUDY, 'correct = "Blue"', 'correct = "blue"')
    err = refusal(text)
    assert "'blue'" in err.message
    assert err.line == line_of(text, 'correct = "blue"')


def test_screen_out_answer_not_among_the_choices() -> None:
    text = replace(STUDY, 'screen_out = ["Never"]', 'screen_out = ["Rarely"]')
    err = refusal(text)
    assert err.line == line_of(text, "screen_out =")


def test_screen_out_in_a_post_item() -> None:
    text = replace(
        STUDY,
        'options = ["Asked questions", "Used my name", "Gave sources"]\n',
        (
            'options = ["Asked questions", "Used my name", "Gave sources"]\n'
            'screen_out = ["Gave sources"]\n'
        ),
    )
    err = refusal(text)
    assert "pre items only" in err.message
    assert err.line == line_of(text, "screen_out =", 2)


def test_reference_naming_no_condition() -> None:
    text = replace(STUDY, 'reference = "neutral"', 'reference = "control"')
    err = refusal(text)
    assert "'control'" in err.message
    assert err.line == line_of(text, "reference =")


def test_stratified_without_stratify_by() -> None:
    text = replace(STUDY, 'method = "blocks"', 'method = "stratified"')
    err = refusal(text)
    assert "stratify_by" in err.message
    assert err.line in (line_of(text, "[assignment]"), line_of(text, 'method = "stratified"'))


@pytest.mark.parametrize(
    "target",
    [
        "trust_pre",  # likert, not single choice
        "age",  # numeric
        "features",  # a post item
        "nonexistent",
    ],
)
def test_stratified_on_an_item_that_cannot_stratify(target: str) -> None:
    text = replace(STUDY, 'method = "blocks"', f'method = "stratified"\nstratify_by = "{target}"')
    err = refusal(text)
    assert "stratify_by" in err.message
    assert err.line == line_of(text, "stratify_by =")


def test_stratified_on_an_optional_single_choice_item() -> None:
    text = replace(STUDY, 'screen_out = ["Never"]', 'screen_out = ["Never"]\nrequired = false')
    assert parse_study(text).pre[0].required is False
    text = replace(text, 'method = "blocks"', 'method = "stratified"\nstratify_by = "experience"')
    assert refusal(text).line == line_of(text, "stratify_by =")


def test_stratify_by_with_blocks_method() -> None:
    text = replace(STUDY, "seed = 20240501", 'seed = 20240501\nstratify_by = "experience"')
    assert refusal(text).line == line_of(text, "stratify_by =")


def test_bad_toml_syntax_names_tomllib_line() -> None:
    text = replace(STUDY, "min_turns = 3", "min_turns = = 3")
    with pytest.raises(tomllib.TOMLDecodeError) as raw:
        tomllib.loads(text)
    err = refusal(text)
    assert err.line == line_of(text, "min_turns = = 3")
    assert f"line {err.line}" in str(raw.value)  # the same line tomllib names
    assert err.message.startswith("Not valid TOML")


def test_bad_toml_unclosed_string() -> None:
    text = replace(STUDY, 'model = "sim-qwen-2.5-7b"', 'model = "sim-qwen-2.5-7b')
    assert refusal(text).line == line_of(text, 'model = "sim-qwen-2.5-7b')


def test_bad_toml_duplicate_key() -> None:
    text = replace(STUDY, "seed = 20240501\n", "seed = 20240501\nseed = 7\n")
    assert refusal(text).line == line_of(text, "seed = 7")


def test_a_text_where_a_number_goes() -> None:
    text = replace(STUDY, "temperature = 0.9", 'temperature = "0.9"')
    err = refusal(text)
    assert "conditions.1.temperature" in err.message and "number" in err.message
    assert err.line == line_of(text, 'temperature = "0.9"')


def test_true_where_a_number_goes() -> None:
    text = replace(STUDY, "temperature = 0.9", "temperature = true")
    err = refusal(text)
    assert "true/false" in err.message
    assert err.line == line_of(text, "temperature = true")


def test_true_where_a_whole_number_goes() -> None:
    text = replace(STUDY, "min_turns = 3", "min_turns = true")
    assert refusal(text).line == line_of(text, "min_turns = true")


def test_a_fraction_where_a_whole_number_goes() -> None:
    text = replace(STUDY, "max_tokens = 512", "max_tokens = 512.5")
    err = refusal(text)
    assert "whole number" in err.message
    assert err.line == line_of(text, "max_tokens = 512.5")


def test_a_number_where_a_text_goes() -> None:
    text = replace(STUDY, 'completed = "C1A2B3"', "completed = 123")
    assert refusal(text).line == line_of(text, "completed = 123")


def test_a_text_where_true_or_false_goes() -> None:
    text = replace(STUDY, "brief = true", 'brief = "yes"')
    assert refusal(text).line == line_of(text, 'brief = "yes"')


def test_below_minimum() -> None:
    text = replace(STUDY, "temperature = 0.7", "temperature = -0.1")
    err = refusal(text)
    assert err.line == line_of(text, "temperature = -0.1")
    assert "at least 0" in err.message


def test_exits_without_completed() -> None:
    text = replace(STUDY, 'completed = "C1A2B3"\n', "")
    err = refusal(text)
    assert "exits.completed" in err.message
    assert err.line == line_of(text, "[exits]")


def test_no_exits_table_at_all() -> None:
    text = replace(MINIMAL, '[exits]\ncompleted = "DONE"\n', "")
    err = refusal(text)
    assert "exits.completed" in err.message


def test_redirect_must_be_a_url() -> None:
    text = replace(STUDY, 'redirect = "https://', 'redirect = "ftp://')
    assert refusal(text).line == line_of(text, "redirect =")


def test_keys_inside_multiline_text_are_not_mistaken_for_keys() -> None:
    # The consent text holds lines that look like keys and headers; the unknown key after it
    # must still be found on its own line.
    text = replace(
        STUDY,
        "## Consent\n",
        '## Consent\nrefrence = "looks like a key"\n[[conditions]]\n',
    )
    text = replace(text, 'title = "Chatting', 'refrence = "warm"\ntitle = "Chatting')
    err = refusal(text)
    assert err.line == line_of(text, 'refrence = "warm"')
    text = replace(text, 'refrence = "warm"\n', "")
    text = replace(text, "top_p = 0.95\n", "top_p = 0.95\ncolour = 1\n")
    assert refusal(text).line == line_of(text, "colour = 1")


# --- config_hash follows meaning ---------------------------------------------------------------

REFORMATTED = '''\
# The same study, written differently: other comments, spacing, key order.
title="Chatting with an assistant"
id    =   "warmth-trust"   # used in links
instructions = """
Chat with the assistant about *planning a trip*.
Ask at least three questions, then press **Finish**.
"""
consent = """
## Consent

You are invited to take part in a study on **conversational assistants**.

- It takes about 15 minutes.
- You may stop at any time; your answers are then deleted.

[Contact the researchers](mailto:study@example.org) with questions.
"""
tasks = [ "chat", ]
reference = 'neutral'

[exits]
  timed_out = "TIME01"
  max_attention_failures = 1
  completed = "C1A2B3"
  redirect = "https://app.prolific.com/submissions/complete?cc={code}&s={SESSION_ID}"
  failed_attention = "ATTN01"
  declined = "DECL01"
  time_limit_minutes = 45.0
  screened_out = "SCRN01"

[platform]
keep = ["STUDY_ID", "SESSION_ID"]
participant_param = "PROLIFIC_PID"

[assignment]
cap = 60
blocks_of = 2
seed = 20_240_501
method = "blocks"

[chat]
max_turns = 20
min_minutes = 2.0
min_turns = 3


[[conditions]]
temperature = 0.70
system_prompt = "You are a helpful assistant."
model = "sim-llama-3.1-8b"
description = "The default assistant"
name = "neutral"

[[conditions]]
name = "warm"
max_tokens = 512
top_p = 0.95
temperature = 0.9
system_prompt = "You are a warm, friendly assistant who uses the user's name."
model = "sim-llama-3.1-8b"
description = "Warm, personal tone"

[[conditions]]
thinking = false
brief = true
name = "brief"
temperature = 0.7
model = "sim-qwen-2.5-7b"
description = "Neutral, with the learned brief"

[[pre]]
screen_out = ["Never"]
options = ["Never", "Monthly", "Weekly", "Daily"]
text = "How often do you use AI assistants?"
kind = "single"
id = "experience"

[[pre]]
id = "trust_pre"
kind = "likert"
required = true
text = "I trust AI assistants to give correct answers."
scale = [
  "Strongly disagree",
  "Disagree",
  "Neutral",
  "Agree",
  "Strongly agree",
]

[[pre]]
id = "age"
kind = "numeric"
text = "How old are you?"
max = 99.0
min = 18

[[pre]]
correct = "Blue"
id = "attention_pre"
kind = "single"
text = "To show you are reading, pick “Blue”."
options = ["Red", "Green", "Blue"]

[[post]]
id = "trust_post"
kind = "likert"
text = "I trusted the assistant's answers."
scale = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

[[post]]
required = false
id = "features"
kind = "multiple"
text = "Which of these did the assistant do?"
options = ["Asked questions", "Used my name", "Gave sources"]

[[post]]
id = "comments"
kind = "text"
text = "Anything else you want to tell us?"
required = false
'''


def test_config_hash_is_sha256_hex(study: Study) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", study.config_hash)


def test_config_hash_ignores_comments_spacing_and_key_order(study: Study) -> None:
    assert REFORMATTED != STUDY
    other = parse_study(REFORMATTED)
    assert other == study
    assert other.config_hash == study.config_hash


def test_config_hash_ignores_a_trailing_comment_and_blank_lines(study: Study) -> None:
    spaced = re.sub(r"\n(\[+[a-z]+\]+)\n", r"\n\n\n\1  # a table\n\n", STUDY)
    assert spaced.count("# a table") == 14
    text = "\n\n" + spaced + "\n# the end\n"
    assert parse_study(text).config_hash == study.config_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("temperature = 0.9", "temperature = 0.8"),
        ("seed = 20240501", "seed = 20240502"),
        ("blocks_of = 2", "blocks_of = 1"),
        ("cap = 60", "cap = 61"),
        ('completed = "C1A2B3"', 'completed = "C1A2B4"'),
        ("brief = true", "brief = false"),
        ("max = 99", "max = 100"),
        ('"Strongly agree"]', '"Totally agree"]'),  # one label of trust_pre
        ('correct = "Blue"', 'correct = "Green"'),
        ("min_turns = 3", "min_turns = 4"),
        ("time_limit_minutes = 45", "time_limit_minutes = 50"),
        ("You may stop at any time", "You may stop whenever you like"),
        ('reference = "neutral"', 'reference = "warm"'),
        ('"STUDY_ID", "SESSION_ID"]', '"SESSION_ID", "STUDY_ID"]'),
        ('text = "How old are you?"', 'text = "What is your age?"'),
    ],
)
def test_config_hash_changes_with_meaning(study: Study, old: str, new: str) -> None:
    changed = parse_study(replace(STUDY, old, new))
    assert changed != study
    assert changed.config_hash != study.config_hash


def test_config_hash_changes_with_condition_order(study: Study) -> None:
    # The order of conditions feeds the assignment sequence, so it is meaning.
    first = STUDY.index("[[conditions]]")
    second = STUDY.index("[[conditions]]", first + 1)
    third = STUDY.index("[[conditions]]", second + 1)
    swapped = STUDY[:first] + STUDY[second:third] + STUDY[first:second] + STUDY[third:]
    other = parse_study(swapped)
    assert [c.name for c in other.conditions] == ["warm", "neutral", "brief"]
    assert other.config_hash != study.config_hash


def test_config_hash_of_a_default_written_out(study: Study) -> None:
    # Writing a default out explicitly is the same meaning ...
    same = replace(STUDY, 'id = "trust_post"\n', 'id = "trust_post"\nrequired = true\n')
    assert parse_study(same).config_hash == study.config_hash
    # ... turning it off is not.
    changed = replace(STUDY, 'id = "trust_post"\n', 'id = "trust_post"\nrequired = false\n')
    assert parse_study(changed).config_hash != study.config_hash
