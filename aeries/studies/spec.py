"""A study as data: what a researcher writes in a study file (TOML), validated and frozen.

The file is the source of truth: the Studies page edits the same format, a live study's
version is this text, and its hash (``Study.config_hash``) is what every row made in the study
records. Parsing is strict — unknown keys, a missing condition, duplicate item ids, an invalid
Likert scale are refused with the line they are on — because a typo in a study file silently
changes an experiment. See docs/studies.md for the format with an example.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field

from aeries.studies.toml_reader import Lines, Reader, StudyFileError, table, tables
from aeries.vocabulary import (
    ASSIGNMENT_METHODS,
    EXIT_OUTCOMES,
    ITEM_KINDS,
    STUDY_TASKS,
    AssignmentMethod,
    ExitOutcome,
    ItemKind,
    StudyTask,
)

STUDY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,47}$")
ITEM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LIKERT_POINTS = range(2, 12)  # 2 to 11 labelled points


@dataclass(frozen=True)
class Item:
    """One questionnaire item."""

    id: str
    kind: ItemKind
    text: str
    required: bool = True
    scale: tuple[str, ...] = ()  # likert: the labels, lowest first
    options: tuple[str, ...] = ()  # single / multiple
    minimum: float | None = None  # numeric
    maximum: float | None = None
    correct: str | None = None  # an attention check: the one right answer
    screen_out: tuple[str, ...] = ()  # answers that end the study as 'screened_out'

    @property
    def is_attention_check(self) -> bool:
        return self.correct is not None

    def choices(self) -> tuple[str, ...]:
        """What a participant picks from (likert labels or options)."""
        return self.scale if self.kind == "likert" else self.options


@dataclass(frozen=True)
class Condition:
    """One arm: what it changes about the chat."""

    name: str
    description: str = ""  # for researchers only; participants never see condition names
    model: str | None = None  # None: the first model the server offers
    endpoint: str | None = None
    system_prompt: str | None = None
    persona: str | None = None  # a persona's name (its instructions become the system prompt)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    thinking: bool | None = None
    brief: bool = False  # whether the learned brief is sent
    arena_models: tuple[str, ...] = ()  # the arena task's contestants: 2 to 4 model ids


@dataclass(frozen=True)
class ChatTask:
    min_turns: int = 1
    min_minutes: float = 0.0
    max_turns: int | None = None


@dataclass(frozen=True)
class ArenaTask:
    votes: int = 5  # blind votes a participant gives before moving on


@dataclass(frozen=True)
class Assignment:
    method: AssignmentMethod = "blocks"
    seed: int = 0
    blocks_of: int = 1  # a block holds each condition this many times
    stratify_by: str | None = None  # a single-choice pre-questionnaire item
    cap: int | None = None  # most participants per condition (per version's study)


@dataclass(frozen=True)
class Exits:
    codes: dict[str, str]  # outcome -> completion code
    redirect: str | None = None  # URL template: {code}, {outcome} and the kept parameters
    time_limit_minutes: float | None = None
    max_attention_failures: int = 0


@dataclass(frozen=True)
class Platform:
    participant_param: str = "PROLIFIC_PID"  # a plain `pid` is always accepted too
    keep: tuple[str, ...] = ("STUDY_ID", "SESSION_ID")


@dataclass(frozen=True)
class Study:
    id: str
    title: str
    consent: str
    instructions: str
    tasks: tuple[StudyTask, ...]
    chat: ChatTask
    arena: ArenaTask
    conditions: tuple[Condition, ...]
    reference: str
    assignment: Assignment
    pre: tuple[Item, ...]
    post: tuple[Item, ...]
    exits: Exits
    platform: Platform = field(default_factory=Platform)

    def condition(self, name: str) -> Condition:
        return next(c for c in self.conditions if c.name == name)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in (*self.pre, *self.post) if i.id == item_id), None)

    @property
    def config_hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated study (comments, spacing and key
        order in the file do not change it; any change of meaning does)."""
        canonical = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


# --- the parts --------------------------------------------------------------------------------


def _item(r: Reader) -> Item:
    item_id = r.text("id", required=True)
    if not ITEM_ID.match(item_id):
        raise r.fail(
            f"Item id {item_id!r}: a letter, then letters, digits or _ (at most 40).", "id"
        )
    kind = r.text("kind", required=True)
    if kind not in ITEM_KINDS:
        raise r.fail(f"Item {item_id!r}: kind must be one of {', '.join(ITEM_KINDS)}.", "kind")
    item = Item(
        id=item_id,
        kind=kind,
        text=r.text("text", required=True).strip(),
        required=r.get("required", bool, True),
        scale=r.strings("scale"),
        options=r.strings("options"),
        minimum=r.number("min"),
        maximum=r.number("max"),
        correct=r.text("correct"),
        screen_out=r.strings("screen_out"),
    )
    r.done()
    _check_item(r, item)
    return item


def _check_item(r: Reader, item: Item) -> None:
    name = f"Item {item.id!r}"
    if item.kind == "likert":
        if len(item.scale) not in LIKERT_POINTS:
            raise r.fail(f"{name}: a Likert scale needs 2 to 11 labels, lowest first.", "scale")
        if len(set(item.scale)) != len(item.scale):
            raise r.fail(f"{name}: the Likert scale repeats a label.", "scale")
    elif item.scale:
        raise r.fail(f"{name}: `scale` is only for likert items.", "scale")
    if item.kind in ("single", "multiple"):
        if len(item.options) < 2 or len(set(item.options)) != len(item.options):
            raise r.fail(f"{name}: needs at least two different options.", "options")
    elif item.options:
        raise r.fail(f"{name}: `options` is only for single and multiple choice.", "options")
    if item.kind != "numeric" and (item.minimum is not None or item.maximum is not None):
        raise r.fail(f"{name}: `min` and `max` are only for numeric items.", "min")
    if item.minimum is not None and item.maximum is not None and item.minimum > item.maximum:
        raise r.fail(f"{name}: `min` is above `max`.", "min")
    choices = item.choices()
    if item.correct is not None:
        if item.kind not in ("likert", "single"):
            raise r.fail(f"{name}: attention checks are likert or single choice.", "correct")
        if item.correct not in choices:
            raise r.fail(f"{name}: the correct answer {item.correct!r} is not a choice.", "correct")
    for answer in item.screen_out:
        if answer not in choices:
            raise r.fail(f"{name}: screen_out answer {answer!r} is not a choice.", "screen_out")


def _condition(r: Reader) -> Condition:
    condition = Condition(
        name=r.text("name", required=True).strip(),
        description=r.text("description", default=""),
        model=r.text("model"),
        endpoint=r.text("endpoint"),
        system_prompt=r.text("system_prompt"),
        persona=r.text("persona"),
        temperature=r.number("temperature", minimum=0),
        top_p=r.number("top_p", minimum=0),
        max_tokens=r.integer("max_tokens", minimum=1),
        thinking=r.get("thinking", bool),
        brief=r.get("brief", bool, False),
        arena_models=r.strings("arena_models"),
    )
    r.done()
    if condition.system_prompt and condition.persona:
        raise r.fail(
            f"Condition {condition.name!r}: give a system_prompt or a persona, not both.", "persona"
        )
    if condition.top_p is not None and condition.top_p > 1:
        raise r.fail(f"Condition {condition.name!r}: top_p must be at most 1.", "top_p")
    return condition


def _exits(r: Reader) -> Exits:
    codes: dict[str, str] = {}
    for outcome in EXIT_OUTCOMES:
        code = r.text(outcome)
        if code is not None:
            if not CODE.match(code):
                raise r.fail(f"Completion code for {outcome}: letters, digits, - or _.", outcome)
            codes[outcome] = code
    if "completed" not in codes:
        raise r.fail("`exits.completed` (the completion code) is required.")
    exits = Exits(
        codes=codes,
        redirect=r.text("redirect"),
        time_limit_minutes=r.number("time_limit_minutes", minimum=1),
        max_attention_failures=r.integer("max_attention_failures", minimum=0, default=0),
    )
    r.done()
    if exits.redirect is not None and not exits.redirect.startswith(("https://", "http://")):
        raise r.fail("`exits.redirect` must be an http(s) URL.", "redirect")
    return exits


def parse_study(text: str) -> Study:
    """The study a study file describes, or StudyFileError naming what is wrong and where."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise StudyFileError(f"Not valid TOML: {exc}", int(match[1]) if match else None) from exc
    lines = Lines(text)
    top = Reader(data, (), lines)
    study_id = top.text("id", required=True)
    if not STUDY_ID.match(study_id):
        raise top.fail("`id`: 2-48 lowercase letters, digits or -, used in links.", "id")
    tasks = tuple(top.strings("tasks")) or ("chat",)
    for task in tasks:
        if task not in STUDY_TASKS:
            raise top.fail(f"Task {task!r}: tasks may be {', '.join(STUDY_TASKS)}.", "tasks")
    if len(set(tasks)) != len(tasks):
        raise top.fail("`tasks` lists a task twice.", "tasks")
    chat_r = table(top, "chat")
    chat = ChatTask(
        min_turns=chat_r.integer("min_turns", minimum=0, default=1),
        min_minutes=chat_r.number("min_minutes", minimum=0) or 0.0,
        max_turns=chat_r.integer("max_turns", minimum=1),
    )
    chat_r.done()
    if chat.max_turns is not None and chat.max_turns < chat.min_turns:
        raise chat_r.fail("`chat.max_turns` is below `chat.min_turns`.", "max_turns")
    arena_r = table(top, "arena")
    arena = ArenaTask(votes=arena_r.integer("votes", minimum=1, default=5))
    arena_r.done()
    if "arena" not in tasks and arena_r.data:
        raise arena_r.fail('[arena] settings need "arena" in `tasks`.')
    condition_readers = tables(top, "conditions")
    conditions = tuple(_condition(r) for r in condition_readers)
    if not conditions:
        raise top.fail("A study needs at least one [[conditions]] table.")
    for reader, condition in zip(condition_readers, conditions, strict=True):
        pool = condition.arena_models
        if "arena" in tasks and not 2 <= len(pool) <= 4:
            raise reader.fail(
                f"Condition {condition.name!r}: the arena task needs `arena_models`, "
                "2 to 4 model ids.",
                "arena_models",
            )
        if pool and "arena" not in tasks:
            raise reader.fail('`arena_models` needs "arena" in `tasks`.', "arena_models")
    names = [c.name for c in conditions]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise StudyFileError(f"Two conditions are named {name!r}.", lines.of("conditions", i))
    reference = top.text("reference", default=names[0])
    if reference not in names:
        raise top.fail(f"The reference condition {reference!r} is not a condition.", "reference")
    pre = tuple(_item(r) for r in tables(top, "pre"))
    post = tuple(_item(r) for r in tables(top, "post"))
    seen: set[str] = set()
    for part, items in (("pre", pre), ("post", post)):
        for i, item in enumerate(items):
            if item.id in seen:
                raise StudyFileError(f"Item id {item.id!r} is used twice.", lines.of(part, i, "id"))
            seen.add(item.id)
    for i, item in enumerate(post):
        if item.screen_out:
            raise StudyFileError(
                f"Item {item.id!r}: screening is done before the task (pre items only).",
                lines.of("post", i, "screen_out"),
            )
    assignment = _assignment(table(top, "assignment"), pre, len(conditions))
    exits = _exits(table(top, "exits"))
    platform_r = table(top, "platform")
    platform = Platform(
        participant_param=platform_r.text("participant_param", default="PROLIFIC_PID"),
        keep=platform_r.strings("keep") if "keep" in platform_r.data else Platform().keep,
    )
    platform_r.done()
    for name in (platform.participant_param, *platform.keep):
        if not PARAM_NAME.match(name) or name in ("study", "p", "pid"):
            raise platform_r.fail(f"Parameter name {name!r} cannot be used.", "keep")
    study = Study(
        id=study_id,
        title=top.text("title", required=True).strip(),
        consent=top.text("consent", required=True).strip(),
        instructions=top.text("instructions", default="").strip(),
        tasks=tasks,  # type: ignore[arg-type]
        chat=chat,
        arena=arena,
        conditions=conditions,
        reference=reference,
        assignment=assignment,
        pre=pre,
        post=post,
        exits=exits,
        platform=platform,
    )
    top.done()
    return study


def _assignment(r: Reader, pre: tuple[Item, ...], n_conditions: int) -> Assignment:
    method = r.text("method", default="blocks")
    if method not in ASSIGNMENT_METHODS:
        raise r.fail(f"`assignment.method` must be {' or '.join(ASSIGNMENT_METHODS)}.", "method")
    assignment = Assignment(
        method=method,
        seed=r.integer("seed", minimum=0, default=0),
        blocks_of=r.integer("blocks_of", minimum=1, default=1),
        stratify_by=r.text("stratify_by"),
        cap=r.integer("cap", minimum=1),
    )
    r.done()
    if method == "stratified":
        item = next((i for i in pre if i.id == assignment.stratify_by), None)
        if item is None or item.kind != "single" or not item.required:
            raise r.fail(
                "`assignment.stratify_by` must name a required single-choice pre item.",
                "stratify_by",
            )
    elif assignment.stratify_by is not None:
        raise r.fail('`stratify_by` is only for method = "stratified".', "stratify_by")
    return assignment


def exit_code(study: Study, outcome: ExitOutcome) -> str | None:
    """The completion code a participant leaving with ``outcome`` is given."""
    return study.exits.codes.get(outcome)
