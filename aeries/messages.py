"""A conversation as a tree of messages: edits and regenerations are siblings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Message:
    """One message of a conversation, with the timings of the exchange that produced it.

    A long conversation is loaded as a skeleton: every message, but ``content`` and
    ``reasoning`` only for the ones drawn or sent; the others have ``loaded=False`` (and empty
    text, which must not be mistaken for an empty answer) until ``MessageTree.fill``.
    """

    id: str
    conversation_id: str
    parent_id: str | None
    role: str
    content: str
    created_at: datetime
    reasoning: str | None = None
    status: str | None = None
    exchange_id: str | None = None
    origin: str = "new"
    origin_message_id: str | None = None
    edited_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    loaded: bool = True


class MessageTree:
    """Messages indexed by parent, with the branch on screen given by a leaf."""

    def __init__(self, messages: list[Message] | None = None) -> None:
        self._by_id: dict[str, Message] = {}
        self._children: dict[str | None, list[Message]] = defaultdict(list)
        for message in sorted(messages or [], key=lambda m: (m.created_at, m.id)):
            self.add(message)

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._by_id

    def get(self, message_id: str) -> Message:
        """The message with this id (KeyError if absent)."""
        return self._by_id[message_id]

    def add(self, message: Message) -> None:
        """Add a message; children keep creation order."""
        if message.id in self._by_id:
            return
        self._by_id[message.id] = message
        self._children[message.parent_id].append(message)

    def unloaded(self, messages: Iterable[Message]) -> list[str]:
        """Ids of those messages whose text is not loaded yet."""
        return [m.id for m in messages if not m.loaded]

    def fill(self, texts: Mapping[str, tuple[str, str | None]]) -> None:
        """Put loaded text (content, reasoning by message id) into skeleton messages."""
        for message_id, (content, reasoning) in texts.items():
            message = self._by_id.get(message_id)
            if message is not None and not message.loaded:
                message.content, message.reasoning, message.loaded = content, reasoning, True

    def children(self, parent_id: str | None) -> list[Message]:
        """Children of a message (None: the roots), oldest first."""
        return list(self._children.get(parent_id, []))

    def siblings(self, message_id: str) -> list[Message]:
        """The message and its alternatives (same parent), oldest first."""
        return self.children(self.get(message_id).parent_id)

    def deepest_leaf(self, message_id: str) -> str:
        """Follow the newest child down from a message to a leaf."""
        current = message_id
        while self._children.get(current):
            current = self._children[current][-1].id
        return current

    def default_leaf(self) -> str | None:
        """The leaf of the newest branch, or None for an empty tree."""
        roots = self._children.get(None)
        if not roots:
            return None
        return self.deepest_leaf(roots[-1].id)

    def path(self, leaf_id: str | None) -> list[Message]:
        """Messages from the root down to ``leaf_id`` (the branch on screen)."""
        if leaf_id is None or leaf_id not in self._by_id:
            leaf_id = self.default_leaf()
        chain: list[Message] = []
        seen: set[str] = set()
        current = leaf_id
        while current is not None and current not in seen:
            seen.add(current)
            message = self._by_id[current]
            chain.append(message)
            current = message.parent_id
        return list(reversed(chain))

    def switch(self, message_id: str, step: int) -> str:
        """The leaf shown after moving ``step`` siblings from ``message_id`` (clamped)."""
        siblings = self.siblings(message_id)
        index = next(i for i, m in enumerate(siblings) if m.id == message_id)
        target = siblings[max(0, min(len(siblings) - 1, index + step))]
        return self.deepest_leaf(target.id)

    def position(self, message_id: str) -> tuple[int, int]:
        """(1-based index among siblings, sibling count)."""
        siblings = self.siblings(message_id)
        index = next(i for i, m in enumerate(siblings) if m.id == message_id)
        return index + 1, len(siblings)
