"""A study's data as one download: the rows made in it, its versions, a codebook and a notebook
that recomputes the outcome table without Aeries.

``study_bundle(db, study_id)`` returns a zip:

- ``tables/<table>.parquet``: the study's rows of every table it touches — its own tables
  (studies, study_versions, enrolments, enrolment_steps, answers), the exchanges, signals,
  arena rounds and votes made in it (with the rounds' sides and the preferences they gave),
  the conversations and messages of its participants, and the participants' user rows (id,
  name, origin, created_at; nobody else's);
- ``versions/v<N>.toml`` (each version's file as written) and ``versions/hashes.json`` (each
  version's ``config_hash``, the hash every row made under it records);
- ``codebook.md``: every column of every bundled table with its type (read from the database,
  so it cannot drift) and meaning, and every questionnaire item of every version with its coded
  values;
- ``analysis.ipynb``: reads the Parquet files with pandas from its own folder and recomputes
  the outcome table with scipy, by the rules of aeries/studies/report.py and outcomes.py, then
  writes ``outcomes.csv``;
- ``manifest.json``: what was bundled, when, and how many rows each table has.

Every query takes the study's id as a parameter; table names come from the constants below.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aeries.store.db import Database
from aeries.store.studies import StudyVersion, get_study, list_versions
from aeries.studies.spec import Item, Study, StudyFileError, parse_study

BUNDLE_FORMAT = 1

# The participants' accounts and their conversations (a study account is made for one study,
# so all of its conversations belong to the study; enrolments.conversation_id is the latest).
_PARTICIPANTS = "SELECT user_id FROM enrolments WHERE study_id = $study"
_CONVERSATIONS = (
    "SELECT id FROM conversations WHERE user_id IN (" + _PARTICIPANTS + ") "
    "UNION SELECT conversation_id FROM enrolments "
    "WHERE study_id = $study AND conversation_id IS NOT NULL"
)
_BATTLES = "SELECT id FROM battles WHERE study_id = $study"

# Table -> the query selecting the study's rows of it ($study: the study's id), in file order.
TABLE_QUERIES: dict[str, str] = {
    "studies": "SELECT * FROM studies WHERE id = $study",
    "study_versions": "SELECT * FROM study_versions WHERE study_id = $study ORDER BY version",
    "enrolments": "SELECT * FROM enrolments WHERE study_id = $study ORDER BY started_at, id",
    "enrolment_steps": (
        "SELECT * FROM enrolment_steps WHERE study_id = $study ORDER BY enrolment_id, entered_at"
    ),
    "answers": "SELECT * FROM answers WHERE study_id = $study ORDER BY enrolment_id, item_id",
    "exchanges": "SELECT * FROM exchanges WHERE study_id = $study ORDER BY started_at, id",
    "signals": "SELECT * FROM signals WHERE study_id = $study ORDER BY created_at, id",
    "conversations": (
        "SELECT * FROM conversations WHERE id IN (" + _CONVERSATIONS + ") ORDER BY created_at, id"
    ),
    "messages": (
        "SELECT * FROM messages WHERE conversation_id IN (" + _CONVERSATIONS + ") "
        "ORDER BY conversation_id, created_at, id"
    ),
    "battles": "SELECT * FROM battles WHERE study_id = $study ORDER BY created_at, id",
    "battle_sides": (
        "SELECT * FROM battle_sides WHERE battle_id IN (" + _BATTLES + ") "
        "ORDER BY battle_id, position"
    ),
    "votes": "SELECT * FROM votes WHERE study_id = $study ORDER BY created_at, id",
    "preferences": (
        "SELECT * FROM preferences WHERE battle_id IN (" + _BATTLES + ") "
        "OR conversation_id IN (" + _CONVERSATIONS + ") ORDER BY created_at, id"
    ),
    "users": (
        "SELECT id, name, origin, created_at FROM users WHERE id IN (" + _PARTICIPANTS + ") "
        "ORDER BY created_at, id"
    ),
}

# What each bundled table holds (docs/schema.md).
TABLE_MEANINGS: dict[str, str] = {
    "studies": "The study: one row.",
    "study_versions": (
        "One row per version of the study's file. A live version is frozen; from then on an "
        "edit makes the next version, which new participants get (those enrolled keep theirs)."
    ),
    "enrolments": (
        "One row per participant in the study, from arrival by link to the exit. In the outcome "
        "table a participant is an enrolment (`id`)."
    ),
    "enrolment_steps": (
        "One row per step an enrolment entered: when, and when it left it. The funnel and the "
        "time per step come from here."
    ),
    "answers": "One row per questionnaire item answered (the items are listed below).",
    "exchanges": (
        "One row per call to a model made in the study: the participants' chat answers "
        "(`source` = `chat`), the arena task's contestants (`arena`) and the observer's "
        "reading of the chat (`observer`). "
        "Latency figures count `status` = `ok` only."
    ),
    "signals": (
        "One row per fact about a participant made in the study: thumbs and comments they "
        "gave, the observer's notes, heuristics, implicit dissatisfaction (regenerate, edit, "
        "abort). `kind` and `name` say which; see the signal table below."
    ),
    "conversations": "One row per conversation of a participant.",
    "messages": (
        "One row per message of those conversations: a tree via `parent_id` (an edit or a "
        "regenerated answer is a sibling of the message it replaces)."
    ),
    "battles": (
        "One row per arena round of the arena task: `parent_battle_id` links the rounds of a "
        "multi-turn round; the contestants are in `battle_sides`."
    ),
    "battle_sides": (
        "One row per contestant of those rounds: `position` 0 = leftmost; its answer is the "
        "exchange `exchange_id`."
    ),
    "votes": "One row per vote on a round.",
    "preferences": (
        "One row per pairwise outcome of the participants: from arena votes (`explicit`) and "
        "from choices in their chats (`implicit`: a regenerated or edited answer)."
    ),
    "users": (
        "The participants' own accounts (origin `study`): only id, name, origin and created_at, "
        "and no other account."
    ),
}

_TIMES = "UTC"
_STUDY_COLUMNS = {
    "study_id": "The study it was made in (this study).",
    "study_hash": "`config_hash` of the study version it was made under.",
    "study_condition": "The participant's condition.",
}

# Column meanings (docs/schema.md's prose). A column the database has but this lacks is listed
# in the codebook all the same, marked as not described.
COLUMN_MEANINGS: dict[str, dict[str, str]] = {
    "studies": {
        "id": "The study's id (lowercase letters, digits, `-`), as in the participant link.",
        "title": "The title participants see.",
        "status": "`draft`, `live`, `paused` or `closed` (when the bundle was made).",
        "current_version": "The version new enrolments get.",
        "created_at": f"When the study was first saved ({_TIMES}).",
        "updated_at": f"When its file or status last changed ({_TIMES}).",
    },
    "study_versions": {
        "study_id": "The study.",
        "version": "1, 2, …: the version number (its file is `versions/v<version>.toml`).",
        "config_hash": (
            "SHA-256 of the version's validated meaning (comments, spacing and key order do "
            "not change it). Every row made under this version records it."
        ),
        "config_toml": "The study file as written.",
        "created_at": f"When this version was saved ({_TIMES}).",
        "frozen_at": "When the version first went live (NULL: never live, still editable).",
    },
    "enrolments": {
        "id": "The enrolment: one participant in this study (`participant` in the analysis).",
        "study_id": "The study.",
        "version": "The study version the participant got (and keeps).",
        "config_hash": "That version's `config_hash`.",
        "participant_key": "The recruiting platform's participant id (e.g. `PROLIFIC_PID`).",
        "user_id": (
            "The participant's own account (`users.id`, origin `study`); their conversations, "
            "exchanges and signals carry it."
        ),
        "platform_params": (
            "The link parameters kept for the redirect, as JSON (e.g. `STUDY_ID`, `SESSION_ID`)."
        ),
        "condition": "The condition assigned when the task started (NULL before).",
        "stratum": (
            "The stratum assigned in: the answer to the stratifying pre item, or empty for "
            "plain blocks (NULL before the task)."
        ),
        "slot": "Position in the stratum's seeded block sequence (NULL before the task).",
        "step": "Where the participant is: `consent`, `instructions`, `pre`, a task, `post`, "
        "`done`.",
        "status": (
            "`in_progress` until they leave; then `completed`, `declined`, `screened_out`, "
            "`failed_attention` or `timed_out`. The outcome table counts `completed` only."
        ),
        "attention_failures": "Attention checks answered wrongly.",
        "turns": "Chat turns sent.",
        "votes": "Arena votes given.",
        "conversation_id": "The chat task's conversation (the latest, if there were several).",
        "completion_code": "The completion code shown at the exit (NULL while in progress).",
        "started_at": f"Arrival by link ({_TIMES}).",
        "step_started_at": f"When the current step was entered ({_TIMES}).",
        "task_started_at": f"When the task started and the condition was assigned ({_TIMES}).",
        "finished_at": f"When the participant left with `status` ({_TIMES}).",
    },
    "enrolment_steps": {
        "enrolment_id": "The enrolment (`enrolments.id`).",
        "study_id": "The study.",
        "step": "The step entered.",
        "entered_at": f"When it was entered ({_TIMES}).",
        "left_at": f"When it was left (NULL: still there, or `done`) ({_TIMES}).",
    },
    "answers": {
        "enrolment_id": "The enrolment (`enrolments.id`).",
        "study_id": "The study.",
        "config_hash": "`config_hash` of the version whose item was answered.",
        "user_id": "The participant's account.",
        "questionnaire": "`pre` or `post`.",
        "item_id": "The item (see the questionnaire items below).",
        "value_text": (
            "The answer as shown: a choice's label, a JSON list of labels for multiple choice, "
            "the text typed, a number as typed."
        ),
        "value_number": (
            "Numeric answers, and the point of a Likert answer: 1 = the lowest label, k = the "
            "k-th label. NULL for choices and text."
        ),
        "correct": "Attention checks only: whether the answer was the correct one.",
        "answered_at": f"When the questionnaire was submitted ({_TIMES}).",
    },
    "exchanges": {
        "id": "The call.",
        "user_id": "The participant (`users.id`).",
        "conversation_id": "The conversation.",
        "message_id": "The answer message it produced (`messages.id`).",
        "source": "`chat` (a chat answer), `arena` (a contestant) or `observer` (the observer).",
        "endpoint": "The model server's URL (no credentials).",
        "model": "The model id served.",
        "persona_id": "The persona whose prompt was sent (NULL: none).",
        "brief_enabled": "Whether the learned brief was sent.",
        "params": (
            "JSON: temperature, top_p, max_tokens, thinking, history, system_prompt, persona, "
            "brief on/off and hash."
        ),
        "request_messages": "JSON: the messages sent (system prompt and history included).",
        "response_text": "The answer's text (what arrived, however the call ended).",
        "reasoning_text": "The model's reasoning (<think>), when it sent any.",
        "status": (
            "`ok`, `error`, `aborted` (stopped by the participant), `cut_off` (ended by the "
            "server, text kept) or `interrupted` (the app stopped while it streamed)."
        ),
        "error": "The error as the participant was told it.",
        "error_kind": "The kind of failure (e.g. `server_down`, `timeout`, `context_length`).",
        "finish_reason": "The server's finish reason (`stop`, `length`, …).",
        "started_at": f"When the request was sent ({_TIMES}).",
        "ttft_ms": "Time to first token, ms (vLLM's benchmark definition; see docs/timings.md).",
        "e2e_ms": "Request sent to last token, ms.",
        "tpot_ms": "Time per output token after the first, ms (from the usage token count).",
        "itl_mean_ms": "Mean gap between output chunks, ms.",
        "itl_p50_ms": "Median gap between output chunks, ms.",
        "itl_p95_ms": "95th percentile of the gaps between output chunks, ms.",
        "itl_max_ms": "Longest gap between output chunks, ms.",
        "chunk_count": "Output chunks received.",
        "prompt_tokens": "Prompt tokens (the server's usage).",
        "completion_tokens": "Completion tokens (the server's usage).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        "server_queue_ms": "The server's own figure: time waiting to be scheduled, ms.",
        "server_ttft_ms": "The server's own figure: scheduling to first token (prefill), ms.",
        "server_generation_ms": "The server's own figure: first to last token, ms.",
        "server_mean_itl_ms": "The server's own figure: mean inter-token latency, ms.",
        "server_tokens_per_second": "The server's own figure: output tokens per second.",
        **_STUDY_COLUMNS,
    },
    "signals": {
        "id": "The signal.",
        "user_id": "The participant it is about.",
        "conversation_id": "The conversation.",
        "exchange_id": "The exchange of the answer it is about.",
        "message_id": "The message it is about.",
        "kind": "`feedback`, `observer`, `heuristic` or `implicit`.",
        "name": "What it is (see the signal table below).",
        "value_num": "Its number (see the signal table below).",
        "value_text": "Its text (see the signal table below).",
        "extractor": "Who produced it: `user`, `observer`, `heuristics`, `implicit`.",
        "extractor_version": "The producer's version.",
        "prompt_hash": "The observer prompt's hash (observer signals).",
        "created_at": f"When it was recorded ({_TIMES}).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        **_STUDY_COLUMNS,
    },
    "conversations": {
        "id": "The conversation.",
        "user_id": "The participant (`users.id`).",
        "title": "The first user message, shortened to at most 100 characters.",
        "persona_id": "The persona (NULL: none).",
        "created_at": f"When it was started ({_TIMES}).",
        "last_message_at": f"When its last message was written ({_TIMES}).",
        "message_count": "Messages written in it.",
        "current_leaf_id": "The message ending the branch on screen.",
        "archived": "Hidden from the participant's main list.",
        "deleted": "Deleted by the participant (the rows are kept).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        "brief_enabled": "Whether the learned brief was on for it.",
    },
    "messages": {
        "id": "The message.",
        "conversation_id": "The conversation.",
        "parent_id": "The message it answers or follows (NULL: the first).",
        "role": "`user` or `assistant`.",
        "content": "The text.",
        "reasoning": "The model's reasoning (assistant messages).",
        "status": "How the answer ended (assistant messages; as `exchanges.status`).",
        "exchange_id": "The exchange that produced it (assistant messages).",
        "origin": "`new`, `edit` or `regenerate`.",
        "origin_message_id": "The sibling an edit or a regeneration replaces.",
        "created_at": f"When it was written ({_TIMES}).",
        "edited_at": f"When it was edited ({_TIMES}).",
    },
    "battles": {
        "id": "The round.",
        "user_id": "The participant (`users.id`).",
        "parent_battle_id": "The round this one continues (NULL: the first).",
        "prompt": "What the participant asked.",
        "blind": "Whether the contestants' names were hidden until the vote.",
        "contestant_count": "How many contestants answered (2 to 4).",
        "created_at": f"When the round started ({_TIMES}).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        **_STUDY_COLUMNS,
    },
    "battle_sides": {
        "battle_id": "The round (`battles.id`).",
        "position": "Where it stood on screen: 0 = leftmost.",
        "contestant": "The contestant's label (a model, or a persona on a model).",
        "model": "The model id.",
        "persona_id": "The persona (NULL: none).",
        "params": "JSON: the side's sampling.",
        "exchange_id": "Its answer (`exchanges.id`).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
    },
    "votes": {
        "id": "The vote.",
        "battle_id": "The round (`battles.id`).",
        "user_id": "The participant.",
        "outcome": "`a`, `b`, `tie` or `both_bad` (two sides), or `best` (more sides).",
        "best_position": "With `best`: the position of the best side.",
        "reasons": "The reasons picked (e.g. `more accurate`, `clearer`, `faster`).",
        "comment": "The participant's comment.",
        "ms_to_vote": "From the last token to the vote, ms.",
        "created_at": f"When the vote was given ({_TIMES}).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        **_STUDY_COLUMNS,
    },
    "preferences": {
        "id": "The preference.",
        "kind": "`explicit` (an arena vote) or `implicit` (a choice in a chat).",
        "source": "`arena` or `chat`.",
        "user_id": "The participant.",
        "battle_id": "The round (arena).",
        "vote_id": "The vote (arena).",
        "conversation_id": "The conversation (chat).",
        "contestant_a": "Side a's contestant.",
        "contestant_b": "Side b's contestant.",
        "model_a": "Side a's model.",
        "model_b": "Side b's model.",
        "exchange_a": "Side a's answer (`exchanges.id`).",
        "exchange_b": "Side b's answer (`exchanges.id`).",
        "position_a": "Where side a stood on screen.",
        "position_b": "Where side b stood on screen.",
        "winner": "`a`, `b`, `tie` or `both_bad`, relative to contestant_a / contestant_b.",
        "weight": "Its weight in rating fits.",
        "created_at": f"When it was recorded ({_TIMES}).",
        "synthetic": "True for rows written by `python -m aeries demo`.",
        "ttft_a_ms": "Side a's time to first token when it was recorded, ms.",
        "ttft_b_ms": "Side b's time to first token when it was recorded, ms.",
    },
    "users": {
        "id": "The participant's account (`enrolments.user_id`).",
        "name": "The account's display name: `<participant_key> · <study id>`.",
        "origin": "`study`: made on enrolment, for this study only.",
        "created_at": f"When the account was made (arrival by link) ({_TIMES}).",
    },
}

SIGNAL_TABLE = """| kind | name | value |
|---|---|---|
| `feedback` | `thumbs` | `value_num` 1 up, 0 down |
| `feedback` | `comment` | `value_text` |
| `heuristic` | `user_chars`, `answer_chars` | `value_num` |
| `heuristic` | `answer_latency_ms` | `value_num` (e2e of the answer) |
| `heuristic` | `reply_delay_s` | `value_num`, from the answer's end to the next message |
| `implicit` | `regenerate`, `edit`, `abort` | `value_num` 1 (dissatisfaction with `message_id`) |
| `observer` | `sentiment` | `value_num` −1..1 |
| `observer` | `satisfaction` | `value_num` 0..1 (with the previous answer) |
| `observer` | `confidence` | `value_num` 0..1 |
| `observer` | `corrected` | `value_num` 0/1 |
| `observer` | `topic`, `intent` | `value_text` |
| `observer` | `preference` | `value_text` as `aspect=value` |
| `observer` | `observer_error` | `value_text`: what went wrong |
"""


@dataclass(frozen=True)
class BundledTable:
    """One table as bundled: its rows and each column's DuckDB type."""

    name: str
    rows: pa.Table
    types: dict[str, str]


class StudyNotFound(LookupError):
    """There is no study with this id."""


def bundle_tables(db: Database, study_id: str) -> list[BundledTable]:
    """The study's rows of each bundled table, with the column types DuckDB reports; read in
    one transaction, so the tables agree with each other while the writer goes on writing."""
    tables = []
    with db.transaction() as cur:
        for name, sql in TABLE_QUERIES.items():
            relation = cur.sql(sql, params={"study": study_id})
            types = {
                column: str(kind).replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ")
                for column, kind in zip(relation.columns, relation.types, strict=True)
            }
            tables.append(BundledTable(name, relation.to_arrow_table(), types))
    return tables


def study_bundle(db: Database, study_id: str) -> bytes:
    """The zip a researcher downloads for ``study_id`` (see the module doc)."""
    record = get_study(db, study_id)
    if record is None:
        raise StudyNotFound(f"There is no study {study_id!r}.")
    made_at = datetime.now(UTC)
    tables = bundle_tables(db, study_id)
    versions = list_versions(db, study_id)
    studies = {v.version: _parsed(v) for v in versions}
    current = studies.get(record.current_version)
    buffer = io.BytesIO()
    stamp = made_at.timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:

        def put(path: str, data: bytes, compress: bool = True) -> None:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)

        for table in tables:
            # Parquet is compressed already (zstd): stored as it is.
            put(f"tables/{table.name}.parquet", _parquet(table.rows), compress=False)
        for v in versions:
            put(f"versions/v{v.version}.toml", v.config_toml.encode("utf-8"))
        put("versions/hashes.json", _json(_hashes(versions)))
        put("codebook.md", codebook(record.title, study_id, tables, versions, studies).encode())
        reference = current.reference if current else None
        put("analysis.ipynb", analysis_notebook(study_id, reference).encode("utf-8"))
        manifest = {
            "format": BUNDLE_FORMAT,
            "study_id": study_id,
            "title": record.title,
            "status": record.status,
            "current_version": record.current_version,
            "made_at": made_at.isoformat(),
            "tables": {
                t.name: {"file": f"tables/{t.name}.parquet", "rows": t.rows.num_rows}
                for t in tables
            },
        }
        put("manifest.json", _json(manifest))
    return buffer.getvalue()


def _parquet(rows: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(rows, out, compression="zstd")
    return out.getvalue()


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _hashes(versions: Sequence[StudyVersion]) -> dict[str, dict[str, Any]]:
    return {
        f"v{v.version}.toml": {
            "version": v.version,
            "config_hash": v.config_hash,
            "created_at": v.created_at.isoformat(),
            "frozen_at": v.frozen_at.isoformat() if v.frozen_at else None,
        }
        for v in versions
    }


def _parsed(version: StudyVersion) -> Study | None:
    """The version's study, or None if its text no longer parses (a stored file is kept as it
    was written; the codebook then says so)."""
    try:
        return parse_study(version.config_toml)
    except StudyFileError:
        return None


# --- the codebook --------------------------------------------------------------------------------


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _cell(text: object) -> str:
    """Text for one Markdown table cell (one line, no column breaks)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def coded_values(item: Item) -> str:
    """How an item's answers are stored: each choice with its code, or the numeric range."""
    if item.kind == "likert":
        points = "; ".join(f"{k} = {label}" for k, label in enumerate(item.scale, start=1))
        return f"`value_number`: {points} (`value_text`: the label)"
    if item.kind == "single":
        return "`value_text`: one of " + "; ".join(f"“{o}”" for o in item.options)
    if item.kind == "multiple":
        options = "; ".join(f"“{o}”" for o in item.options)
        return f"`value_text`: a JSON list of those chosen among {options}"
    if item.kind == "numeric":
        low = "−∞" if item.minimum is None else f"{item.minimum:g}"
        high = "∞" if item.maximum is None else f"{item.maximum:g}"
        return f"`value_number`: a number from {low} to {high}"
    return "`value_text`: the text typed"


def _items_table(study: Study) -> list[str]:
    lines = [
        "| id | questionnaire | kind | text | scale / options (coded values) | required | "
        "attention check | screens out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for questionnaire, items in (("pre", study.pre), ("post", study.post)):
        for item in items:
            check = f"yes: correct is “{item.correct}”" if item.is_attention_check else "no"
            screen = "; ".join(f"“{a}”" for a in item.screen_out) or "—"
            cells = (
                f"`{item.id}`",
                questionnaire,
                item.kind,
                item.text,
                coded_values(item),
                "yes" if item.required else "no",
                check,
                screen,
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if len(lines) == 2:
        lines.append("| — | | | (this version has no questionnaire items) | | | | |")
    return lines


def _conditions_table(study: Study) -> list[str]:
    lines = ["| condition | reference | description | model |", "|---|---|---|---|"]
    for c in study.conditions:
        reference = "yes" if c.name == study.reference else ""
        model = c.model or "(the first model the server offers)"
        lines.append(f"| {_cell(c.name)} | {reference} | {_cell(c.description)} | {_cell(model)} |")
    return lines


def codebook(
    title: str,
    study_id: str,
    tables: Sequence[BundledTable],
    versions: Sequence[StudyVersion],
    studies: Mapping[int, Study | None],
) -> str:
    """The codebook: every bundled column (from the database's own schema) and every item."""
    out = [
        f"# Codebook: {title} (`{study_id}`)",
        "",
        "The rows made in this study, as Parquet files under `tables/`, one per table. "
        "Timestamps are UTC. Ids are UUIDv7 strings (they sort by creation time). "
        "`analysis.ipynb` recomputes the outcome table from these files (pandas and scipy; "
        "Aeries is not needed) and writes `outcomes.csv`.",
        "",
        "Joins: `enrolments.user_id` = `users.id` = `conversations.user_id` = "
        "`exchanges.user_id` = `signals.user_id`; `answers.enrolment_id` and "
        "`enrolment_steps.enrolment_id` = `enrolments.id`; `messages.conversation_id` = "
        "`conversations.id`; `messages.exchange_id` = `exchanges.id`; "
        "`signals.exchange_id` = `exchanges.id` (the answer it is about); arena rounds: "
        "`battles.id` = `battle_sides.battle_id` = `votes.battle_id` = "
        "`preferences.battle_id`, `battle_sides.exchange_id` = `exchanges.id`.",
        "",
        "## Tables",
        "",
    ]
    for table in tables:
        out += [
            f"### `{table.name}` — `tables/{table.name}.parquet`, {_rows(table.rows.num_rows)}",
            "",
            TABLE_MEANINGS.get(table.name, ""),
            "",
            "| column | type | meaning |",
            "|---|---|---|",
        ]
        meanings = COLUMN_MEANINGS.get(table.name, {})
        for column, kind in table.types.items():
            meaning = meanings.get(column, "(not described yet: see docs/schema.md)")
            out.append(f"| `{column}` | {kind} | {_cell(meaning)} |")
        out.append("")
        if table.name == "signals":
            out += ["Signal kinds and names:", "", SIGNAL_TABLE]
    out += ["## Versions and questionnaire items", ""]
    for v in versions:
        frozen = f"frozen {v.frozen_at:%Y-%m-%d %H:%M} UTC" if v.frozen_at else "never live"
        out += [
            f"### Version {v.version} — `versions/v{v.version}.toml`",
            "",
            f"`config_hash` {v.config_hash} · saved {v.created_at:%Y-%m-%d %H:%M} UTC · {frozen}",
            "",
        ]
        study = studies.get(v.version)
        if study is None:
            out += ["(This version's file no longer parses; see its text.)", ""]
            continue
        out += ["Conditions:", "", *_conditions_table(study), "", "Items:", ""]
        out += [*_items_table(study), ""]
    return "\n".join(out).rstrip() + "\n"


# --- the notebook --------------------------------------------------------------------------------

_INTRO = """# {study_id}: the outcome table, recomputed

This notebook needs only pandas (with pyarrow), numpy and scipy — not Aeries. It reads the
Parquet files in `tables/` next to it, recomputes the outcome table Aeries shows on its Studies
page, displays it and writes `outcomes.csv`.

The rules (Aeries' `aeries/studies/report.py` and `outcomes.py`):

- **Participants**: completed enrolments only; one value per participant and measure.
- **Measures**: every Likert and numeric post-questionnaire item of the current version except
  attention checks (the answer's `value_number`: a Likert point is 1 for the lowest label); the
  participant's median TTFT and median E2E over their `ok` chat exchanges; their mean thumb
  (1 up, 0 down) and mean observer satisfaction (0..1).
- A measure is shown only when the reference condition has values for it.
- **Comparison** of each condition with the reference: difference of means with a 95% Welch
  interval; Welch's t test and Cohen's d (pooled SD) for interval measures; the two-sided
  Mann–Whitney U test and the rank-biserial r for Likert items (ordinal). A group with fewer
  than 2 values has no interval, effect or p; two constant groups have no Welch interval or p.
"""

_LOAD = """import math
from pathlib import Path

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    import tomli as tomllib

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path.cwd()  # Jupyter runs a notebook in its own folder
if not (HERE / "tables").is_dir():
    raise FileNotFoundError(f"Run this notebook from the unzipped bundle: no tables/ in {HERE}")
tables = {path.stem: pd.read_parquet(path) for path in sorted((HERE / "tables").glob("*.parquet"))}
{name: len(frame) for name, frame in tables.items()}"""

_SPEC = """# The current version's file: its reference condition and post-questionnaire measures.
study = tables["studies"].iloc[0]
version = int(study["current_version"])
spec = tomllib.loads((HERE / "versions" / f"v{version}.toml").read_text(encoding="utf-8"))
REFERENCE = spec.get("reference", spec["conditions"][0]["name"].strip())
KINDS = {
    item["id"]: "ordinal" if item["kind"] == "likert" else "interval"
    for item in spec.get("post", [])
    if item["kind"] in ("likert", "numeric") and "correct" not in item  # no attention checks
}
print(f"Study {study['id']!r}, version {version}; reference condition {REFERENCE!r}")
print("Questionnaire measures:", KINDS)"""

_MEASURES = """# One row per (participant, measure): completed enrolments only.
enrolments = tables["enrolments"]
done = enrolments.loc[enrolments["status"] == "completed", ["id", "user_id", "condition"]]
done = done.rename(columns={"id": "participant"})

answers = tables["answers"].merge(done, left_on="enrolment_id", right_on="participant")
answers = answers[answers["value_number"].notna() & answers["item_id"].isin(list(KINDS))]
items = answers[["participant", "condition", "item_id", "value_number"]].set_axis(
    ["participant", "condition", "measure", "value"], axis=1
)

exchanges = tables["exchanges"]
chat = exchanges[(exchanges["source"] == "chat") & (exchanges["status"] == "ok")]
chat = chat.merge(done, on="user_id")
latency = chat.groupby(["participant", "condition"])[["ttft_ms", "e2e_ms"]].median()

signals = tables["signals"].merge(done, on="user_id")
scores = {
    name: signals[signals["name"] == name].groupby(["participant", "condition"])["value_num"].mean()
    for name in ("thumbs", "satisfaction")
}
derived = pd.concat([latency, pd.DataFrame(scores)], axis=1)
derived = derived.reset_index().melt(
    id_vars=["participant", "condition"], var_name="measure", value_name="value"
)
derived = derived.dropna(subset=["value"])
kinds = dict(KINDS) | {str(m): "interval" for m in derived["measure"].unique()}

measures = pd.concat([items, derived], ignore_index=True)
measures["value"] = measures["value"].astype(float)
measures = measures.dropna(subset=["value"])
present = set(measures.loc[measures["condition"] == REFERENCE, "measure"])
measures = measures[measures["measure"].isin(present)]
measures.groupby(["measure", "condition"])["value"].agg(["count", "mean"])"""

_STATS = """def finite(x):
    x = float(x)
    return x if math.isfinite(x) else None


def cohen_d(ref, cond):
    n_r, n_c = ref.size, cond.size
    pooled = ((n_r - 1) * ref.var(ddof=1) + (n_c - 1) * cond.var(ddof=1)) / (n_r + n_c - 2)
    if not pooled > 0:
        return None
    return finite((cond.mean() - ref.mean()) / math.sqrt(pooled))


def compare(ref, cond, kind, confidence=0.95):
    \"\"\"(diff, ci_low, ci_high, effect, p) of a condition against the reference.\"\"\"
    if ref.size == 0 or cond.size == 0:
        return None, None, None, None, None
    diff = float(cond.mean() - ref.mean())
    if ref.size < 2 or cond.size < 2:
        return diff, None, None, None, None
    ci_low = ci_high = welch_p = None
    if np.ptp(ref) > 0 or np.ptp(cond) > 0:  # two constant groups: no Welch interval
        welch = stats.ttest_ind(cond, ref, equal_var=False)
        ci = welch.confidence_interval(confidence_level=confidence)
        ci_low, ci_high, welch_p = finite(ci.low), finite(ci.high), finite(welch.pvalue)
    if kind == "interval":
        return diff, ci_low, ci_high, cohen_d(ref, cond), welch_p
    mwu = stats.mannwhitneyu(cond, ref, alternative="two-sided")
    rank_biserial = 2.0 * float(mwu.statistic) / (cond.size * ref.size) - 1.0
    all_tied = np.ptp(np.concatenate([ref, cond])) == 0
    return diff, ci_low, ci_high, rank_biserial, None if all_tied else finite(mwu.pvalue)


rows = []
groups = {key: g.to_numpy() for key, g in measures.groupby(["measure", "condition"])["value"]}
for name in sorted(set(measures["measure"])):
    kind = kinds[name]
    ref = groups[(name, REFERENCE)]
    others = sorted(c for m, c in groups if m == name and c != REFERENCE)
    for condition in [REFERENCE, *others]:
        values = groups[(name, condition)]
        if condition == REFERENCE:
            diff = ci_low = ci_high = effect = p = None
        else:
            diff, ci_low, ci_high, effect, p = compare(ref, values, kind)
        rows.append({
            "measure": name,
            "kind": kind,
            "condition": condition,
            "n": values.size,
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if values.size >= 2 else None,
            "diff": diff,
            "ci_low": ci_low,
            "ci_high": ci_high,
            "effect": effect,
            "effect_name": "cohen_d" if kind == "interval" else "rank_biserial",
            "test": "Welch t" if kind == "interval" else "Mann-Whitney U",
            "p_value": p,
        })
COLUMNS = ["measure", "kind", "condition", "n", "mean", "sd", "diff", "ci_low", "ci_high",
           "effect", "effect_name", "test", "p_value"]
outcomes = pd.DataFrame(rows, columns=COLUMNS)
outcomes.to_csv(HERE / "outcomes.csv", index=False)
print(f"{len(outcomes)} rows written to outcomes.csv")
outcomes"""


def analysis_notebook(study_id: str, reference: str | None) -> str:
    """The analysis notebook (nbformat 4) as JSON text."""
    import nbformat  # the notebook format's own writer and validator
    from nbformat import v4

    intro = _INTRO.format(study_id=study_id)
    if reference:
        intro += f"\nThe reference condition of the current version is **{reference}**.\n"
    notebook = v4.new_notebook(
        cells=[
            v4.new_markdown_cell(intro),
            v4.new_code_cell(_LOAD),
            v4.new_code_cell(_SPEC),
            v4.new_markdown_cell("## Per-participant measures"),
            v4.new_code_cell(_MEASURES),
            v4.new_markdown_cell("## The outcome table"),
            v4.new_code_cell(_STATS),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    text: str = nbformat.writes(notebook)
    return text
