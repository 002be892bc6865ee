"""Conversations and their message trees; every query is scoped to one user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aeries.ids import is_id, new_id, utcnow
from aeries.messages import Message
from aeries.store.db import Database
from aeries.store.writer import Execute, Insert, Writer
from aeries.text import like_pattern, make_title


@dataclass
class Conversation:
    """A conversation row as the UI needs it."""

    id: str
    user_id: str
    title: str
    created_at: datetime
    last_message_at: datetime | None
    message_count: int
    current_leaf_id: str | None
    archived: bool
    persona_id: str | None = None
    brief_enabled: bool = True


_CONV_COLUMNS = (
    "id, user_id, title, created_at, last_message_at, message_count, current_leaf_id, archived,"
    " persona_id, brief_enabled"
)


def new_conversation(
    writer: Writer,
    user_id: str,
    first_message: str,
    persona_id: str | None = None,
    *,
    brief_enabled: bool = True,
) -> Conversation:
    """Create a conversation titled from its first message (written in the background)."""
    now = utcnow()
    conv = Conversation(
        id=new_id(),
        user_id=user_id,
        title=make_title(first_message),
        created_at=now,
        last_message_at=now,
        message_count=0,
        current_leaf_id=None,
        archived=False,
        persona_id=persona_id,
        brief_enabled=brief_enabled,
    )
    writer.submit(
        Insert(
            "conversations",
            {
                "id": conv.id,
                "user_id": user_id,
                "title": conv.title,
                "persona_id": persona_id,
                "brief_enabled": brief_enabled,
                "created_at": now,
                "last_message_at": now,
            },
        )
    )
    return conv


def list_conversations(
    db: Database,
    user_id: str,
    *,
    archived: bool = False,
    query: str | None = None,
    limit: int = 200,
) -> list[Conversation]:
    """The user's conversations by last activity; ``query`` matches titles and message text."""
    sql = f"SELECT {_CONV_COLUMNS} FROM conversations c WHERE user_id = ? AND NOT deleted"
    params: list[Any] = [user_id]
    sql += " AND archived = ?"
    params.append(archived)
    if query and query.strip():
        pattern = like_pattern(query.strip())
        sql += (
            " AND (title ILIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
            " WHERE m.conversation_id = c.id AND m.content ILIKE ? ESCAPE '\\'))"
        )
        params += [pattern, pattern]
    sql += " ORDER BY coalesce(last_message_at, created_at) DESC, id DESC LIMIT ?"
    params.append(limit)
    return [Conversation(*row) for row in db.rows(sql, params)]


def get_conversation(db: Database, user_id: str, conversation_id: str) -> Conversation | None:
    """The conversation if it exists, is not deleted, and belongs to ``user_id``."""
    if not is_id(conversation_id):
        return None
    row = db.one(
        f"SELECT {_CONV_COLUMNS} FROM conversations WHERE id = ? AND user_id = ? AND NOT deleted",
        [conversation_id, user_id],
    )
    return Conversation(*row) if row else None


# An answer's ``meta``: its exchange's figures, and the context analytics files feedback under.
METRIC_KEYS = ("model", "ttft_ms", "e2e_ms", "completion_tokens", "error", "prompt_tokens")
CONTEXT_KEYS = ("started_at", "persona_id", "brief_enabled")


# Messages of one conversation, with the exchange that produced each; the JOIN on conversations
# keeps every read to a conversation the user owns and has not deleted.
_FROM_OWNED = """FROM messages m
           JOIN conversations c ON c.id = m.conversation_id
           LEFT JOIN exchanges e ON e.id = m.exchange_id
           WHERE m.conversation_id = ? AND c.user_id = ? AND NOT c.deleted"""
_SKELETON_COLUMNS = """m.id, m.conversation_id, m.parent_id, m.role, m.created_at, m.status,
                  m.exchange_id, m.origin, m.origin_message_id, m.edited_at, e.model,
                  e.ttft_ms, e.e2e_ms, e.completion_tokens, e.error, e.prompt_tokens,
                  e.started_at, e.persona_id, e.brief_enabled"""


def _message(row: dict[str, Any], *, loaded: bool = True) -> Message:
    meta = {k: row.pop(k) for k in (*METRIC_KEYS, *CONTEXT_KEYS)}
    meta = {k: v for k, v in meta.items() if v is not None}
    row.setdefault("content", "")
    return Message(**row, meta=meta, loaded=loaded)


def load_messages(db: Database, user_id: str, conversation_id: str) -> list[Message]:
    """All messages of a user's conversation, with their exchange's figures and context in
    ``meta``."""
    rows = db.records(
        f"""SELECT {_SKELETON_COLUMNS}, m.content, m.reasoning
           {_FROM_OWNED}
           ORDER BY m.created_at, m.id""",
        [conversation_id, user_id],
    )
    return [_message(row) for row in rows]


def load_skeleton(db: Database, user_id: str, conversation_id: str) -> list[Message]:
    """Every message of a user's conversation without its text (``loaded=False``): enough for
    the tree, sibling navigation, metrics and feedback context. A message without any text (a
    failed answer) is complete as it is, so it counts as loaded."""
    rows = db.records(
        f"""SELECT {_SKELETON_COLUMNS},
                  (m.content = '' AND m.reasoning IS NULL) AS blank
           {_FROM_OWNED}
           ORDER BY m.created_at, m.id""",
        [conversation_id, user_id],
    )
    return [_message(row, loaded=row.pop("blank")) for row in rows]


def load_texts(
    db: Database, user_id: str, conversation_id: str, message_ids: Sequence[str]
) -> dict[str, tuple[str, str | None]]:
    """(content, reasoning) of these messages of a user's conversation, by id (ids from another
    conversation or user are ignored)."""
    if not message_ids:
        return {}
    rows = db.rows(
        f"""SELECT m.id, m.content, m.reasoning
           {_FROM_OWNED} AND m.id IN (SELECT unnest(?::VARCHAR[]))""",
        [conversation_id, user_id, list(message_ids)],
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def message_row(message: Message) -> dict[str, Any]:
    """The ``messages`` row for a Message."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "status": message.status,
        "exchange_id": message.exchange_id,
        "origin": message.origin,
        "origin_message_id": message.origin_message_id,
        "created_at": message.created_at,
        "edited_at": message.edited_at,
    }


def save_message(writer: Writer, user_id: str, message: Message) -> None:
    """Store a message and make it the conversation's shown leaf."""
    writer.submit(
        Insert("messages", message_row(message)),
        Execute(
            """UPDATE conversations
               SET message_count = message_count + 1, last_message_at = ?, current_leaf_id = ?
               WHERE id = ? AND user_id = ?""",
            [message.created_at, message.id, message.conversation_id, user_id],
        ),
    )


# The columns of a conversation its owner changes one at a time.
_Setting = Literal["current_leaf_id", "title", "archived", "brief_enabled", "deleted"]


def _set_column(
    writer: Writer, user_id: str, conversation_id: str, column: _Setting, value: object
) -> None:
    """Set one column of a conversation, if it belongs to ``user_id``."""
    writer.submit(
        Execute(
            f"UPDATE conversations SET {column} = ? WHERE id = ? AND user_id = ?",
            [value, conversation_id, user_id],
        )
    )


def set_current_leaf(writer: Writer, user_id: str, conversation_id: str, leaf_id: str) -> None:
    """Remember which branch is on screen, so a reload shows the same one."""
    _set_column(writer, user_id, conversation_id, "current_leaf_id", leaf_id)


def rename_conversation(writer: Writer, user_id: str, conversation_id: str, title: str) -> str:
    """Rename (the title is cleaned to one line of ≤ 100 characters); returns the stored title."""
    clean = make_title(title)
    _set_column(writer, user_id, conversation_id, "title", clean)
    return clean


def set_archived(writer: Writer, user_id: str, conversation_id: str, archived: bool) -> None:
    """Archive (hide from the main list) or bring back."""
    _set_column(writer, user_id, conversation_id, "archived", archived)


def set_brief_enabled(writer: Writer, user_id: str, conversation_id: str, enabled: bool) -> None:
    """Switch the brief on or off for one conversation."""
    _set_column(writer, user_id, conversation_id, "brief_enabled", enabled)


def delete_conversation(writer: Writer, user_id: str, conversation_id: str) -> None:
    """Hide a conversation for good; its exchanges and signals stay for research."""
    _set_column(writer, user_id, conversation_id, "deleted", True)
