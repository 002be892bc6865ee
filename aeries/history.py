"""The history sent with a chat request: the end of the branch, bounded by a message count and
by a token budget taken from the model's context length.

A count alone lets one huge message (a 1,000,000-character paste) ride along with every later
request of its conversation, which then all fail for being longer than the model's context.
There is no tokenizer here, and asking vLLM's ``/tokenize`` first would delay the first token,
so tokens are estimated from the text, erring on the high side.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aeries.messages import Message

# When /v1/models did not say: small enough for any served model, so a huge paste still cannot
# poison the turns after it.
DEFAULT_CONTEXT = 8192
# Role markers, separators and end-of-turn tokens a chat template wraps each message in, and
# the begin-of-text plus generation prompt around the whole prompt (Llama 3 uses 4-5 and 1-4;
# rounded up).
PER_MESSAGE_TOKENS = 8
PER_PROMPT_TOKENS = 8
# Byte-level BPE vocabularies average ~4 UTF-8 bytes per token on English and ~3 on CJK
# (one character each); three bytes per token over-counts most text.
BYTES_PER_TOKEN = 3
# Tokenizers split text into words and punctuation before merging, so each of these pieces is at
# least one token: this dominates for spaced single letters ("x x x") or punctuation runs.
_PIECE = re.compile(r"\w+|[^\w\s]")

_ROLES = ("user", "assistant")


def estimate_tokens(text: str, limit: int | None = None) -> int:
    """A conservative token count for ``text`` (without template overhead).

    Once the bytes alone exceed ``limit`` the words are not counted: that reads the whole text
    (~60 ms for a 1 MB paste, before the request could go out) and cannot change the verdict.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    by_bytes = math.ceil(size / BYTES_PER_TOKEN)
    if limit is not None and by_bytes > limit:
        return by_bytes
    return max(by_bytes, len(_PIECE.findall(text)))


def message_tokens(content: str) -> int:
    """The estimated tokens of one chat message, template overhead included."""
    return estimate_tokens(content) + PER_MESSAGE_TOKENS


def context_budget(
    max_model_len: int | None,
    max_tokens: int | None,
    system: Sequence[dict[str, str]] = (),
) -> int:
    """Tokens left for the history: context − room for the answer − the system messages.

    The answer keeps ``max_tokens`` but never more than half the context (a max_tokens near
    the context length would otherwise leave no history at all; vLLM clamps the answer instead).
    """
    context = max_model_len if max_model_len and max_model_len > 0 else DEFAULT_CONTEXT
    reserve = context // 2 if max_tokens is None else min(max(max_tokens, 0), context // 2)
    fixed = PER_PROMPT_TOKENS + sum(message_tokens(m.get("content") or "") for m in system)
    return context - reserve - fixed


@dataclass(frozen=True)
class HistoryWindow:
    """The chat messages to send after the system messages, and what was left out."""

    messages: list[dict[str, str]]
    # Messages of the branch with text (or text not loaded) that are not in ``messages``.
    omitted: int
    # Estimated tokens of ``messages`` (template overhead included) and the budget they had.
    tokens: int
    budget: int

    @property
    def over_budget(self) -> bool:
        """The latest user message alone is over the budget (it is sent anyway: the server's
        own context-length error then says so clearly)."""
        return self.tokens > self.budget


def history_window(
    branch: Sequence[Message],
    *,
    history: int,
    max_model_len: int | None,
    max_tokens: int | None,
    system: Sequence[dict[str, str]] = (),
) -> HistoryWindow:
    """The end of ``branch`` as chat messages, within ``history`` messages and the token budget.

    Rules kept from the count-only window: empty (failed) answers are dropped, neighbours of the
    same role are merged (chat templates that demand alternating roles accept the result; the
    count is of merged messages), and the window never starts with an answer. The window is a
    contiguous suffix of the branch: the latest user message (and anything after it) is always
    in it; an older message that does not fit ends it, and so does a message whose text is not
    loaded (a gap in the middle would silently change the conversation the model sees).
    """
    sendable = [m for m in branch if m.role in _ROLES and (m.content or not m.loaded)]
    last_user = max((i for i, m in enumerate(sendable) if m.role == "user"), default=None)
    budget = context_budget(max_model_len, max_tokens, system)
    if last_user is None:
        return HistoryWindow([], len(sendable), 0, budget)
    kept: list[Message] = []  # newest first
    costs: list[int] = []  # estimated tokens each kept message adds
    roles: list[str] = []  # role of each merged message, newest first
    used = 0
    for index in range(len(sendable) - 1, -1, -1):
        message = sendable[index]
        if not message.loaded:
            break
        required = index >= last_user
        merges = bool(roles) and roles[-1] == message.role
        if not required and not merges and len(roles) >= max(history, 1):
            break
        overhead = 1 if merges else PER_MESSAGE_TOKENS  # merged: joined by a blank line
        remaining = budget - used - overhead
        cost = estimate_tokens(message.content, limit=max(remaining, 0)) + overhead
        if not required and cost > budget - used:
            break
        kept.append(message)
        costs.append(cost)
        used += cost
        if not merges:
            roles.append(message.role)
    kept.reverse()
    costs.reverse()
    while kept and kept[0].role == "assistant":
        kept.pop(0)
        used -= costs.pop(0)
    return HistoryWindow(_merged(kept), len(sendable) - len(kept), used, budget)


def _merged(messages: Sequence[Message]) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for message in messages:
        if turns and turns[-1]["role"] == message.role:
            turns[-1] = {
                "role": message.role,
                "content": f"{turns[-1]['content']}\n\n{message.content}",
            }
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns
