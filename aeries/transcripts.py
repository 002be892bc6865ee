"""A conversation as Markdown (the branch on screen) or JSON (the whole tree, with timings).

The page holds only part of a long conversation's text, so exports read the whole of it from
the database when asked (``markdown_export``, ``json_export``), not on every rerun.
"""

from __future__ import annotations

import json
from typing import Any

from aeries.messages import Message, MessageTree
from aeries.store.conversations import METRIC_KEYS, Conversation, load_messages
from aeries.store.db import Database


def conversation_markdown(conversation: Conversation, branch: list[Message]) -> str:
    """The branch on screen as a Markdown document."""
    lines = [f"# {conversation.title}", "", f"_Exported from Aeries · {conversation.id}_", ""]
    for message in branch:
        who = "You" if message.role == "user" else (message.meta.get("model") or "Assistant")
        lines += [f"## {who}", ""]
        if message.reasoning:
            quoted = "\n".join(f"> {line}" for line in message.reasoning.splitlines())
            lines += ["<details><summary>Reasoning</summary>", "", quoted, "", "</details>", ""]
        lines += [message.content or "_(no answer)_", ""]
        if message.status in ("error", "aborted", "cut_off"):
            note = message.meta.get("error") or "stopped before the end"
            lines += [f"_({message.status}: {note})_", ""]
    return "\n".join(lines)


def _message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "status": message.status,
        "origin": message.origin,
        "origin_message_id": message.origin_message_id,
        "exchange_id": message.exchange_id,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "metrics": {k: v for k, v in message.meta.items() if k in METRIC_KEYS and k != "error"},
        "error": message.meta.get("error"),
    }


def conversation_json(conversation: Conversation, tree: MessageTree, leaf_id: str | None) -> str:
    """Every message of the conversation (the tree, with parent ids) plus the branch on screen."""
    messages = [tree.get(m.id) for m in _walk(tree)]
    document = {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "persona_id": conversation.persona_id,
        "branch": [m.id for m in tree.path(leaf_id)],
        "messages": [_message_json(m) for m in messages],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


def _walk(tree: MessageTree, parent: str | None = None) -> list[Message]:
    out: list[Message] = []
    stack = list(reversed(tree.children(parent)))
    while stack:
        message = stack.pop()
        out.append(message)
        stack.extend(reversed(tree.children(message.id)))
    return out


def markdown_export(
    db: Database, user_id: str, conversation: Conversation, leaf_id: str | None
) -> str:
    """The branch ending at ``leaf_id`` as Markdown, read in full from the user's own data."""
    tree = MessageTree(load_messages(db, user_id, conversation.id))
    return conversation_markdown(conversation, tree.path(leaf_id))


def json_export(db: Database, user_id: str, conversation: Conversation, leaf_id: str | None) -> str:
    """The whole tree as JSON, read in full from the user's own data."""
    tree = MessageTree(load_messages(db, user_id, conversation.id))
    return conversation_json(conversation, tree, leaf_id)
