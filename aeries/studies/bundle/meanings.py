"""What the study bundle's tables and columns mean, for its codebook: a sentence per bundled
table, a meaning per column (docs/schema.md's prose), and the signal table's kinds and names as
Markdown.
"""

from __future__ import annotations

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
