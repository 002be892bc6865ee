"""Text side of the simulator: an approximate tokenizer and deterministic English-ish output.

A "token" here is one streamed piece: a word with its leading space, a punctuation mark, or a
markdown marker. Joining the pieces gives the text back exactly.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

_PROMPT_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_PIECE_RE = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
PER_MESSAGE_TOKENS = 4  # role markers and separators a chat template adds around each message
PER_PROMPT_TOKENS = 2  # begin-of-text plus the assistant generation prompt

REFUSAL = "I'm sorry, but I can't help with that."

_OPENERS = [
    "In practice",
    "Overall",
    "For example",
    "However",
    "In short",
    "As a rule",
    "Put simply",
    "On balance",
    "In most cases",
    "To be fair",
]
_ADJECTIVES = [
    "careful",
    "simple",
    "robust",
    "clear",
    "practical",
    "useful",
    "small",
    "reliable",
    "consistent",
    "modern",
    "flexible",
    "common",
    "important",
    "subtle",
    "efficient",
]
_NOUNS = [
    "approach",
    "model",
    "study",
    "result",
    "method",
    "question",
    "answer",
    "pattern",
    "dataset",
    "experiment",
    "signal",
    "system",
    "idea",
    "trade-off",
    "measurement",
    "sample",
    "context",
    "detail",
    "hypothesis",
    "baseline",
]
_VERBS = [
    "improves",
    "explains",
    "supports",
    "changes",
    "reveals",
    "shapes",
    "limits",
    "reduces",
    "strengthens",
    "clarifies",
    "affects",
    "captures",
]
_PREPOSITIONS = ["in", "for", "across", "within", "under", "beyond", "despite", "through"]
_DANGLING = frozenset({"the", *_PREPOSITIONS})
_REASONING_OPENERS = [
    "Okay, the user is asking about",
    "Let me think about",
    "Hmm, so the question concerns",
]


def message_text(content: Any) -> str:
    """The text of a message's content: a string or a list of parts (non-text parts skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Approximate prompt length: words and punctuation marks, plus template overhead.

    count = sum over messages of (words + punctuation marks + 4) + 2.
    """
    total = PER_PROMPT_TOKENS
    for message in messages:
        text = message_text(message.get("content")) if isinstance(message, dict) else ""
        total += len(_PROMPT_TOKEN_RE.findall(text)) + PER_MESSAGE_TOKENS
    return total


def split_pieces(text: str) -> list[str]:
    """Split text into stream pieces (leading whitespace kept); ''.join(pieces) == text."""
    return _PIECE_RE.findall(text)


def split_fixed(text: str, size: int = 4) -> list[str]:
    """Split text into pieces of `size` characters, the way JSON output streams."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def rng_for(*parts: Any) -> random.Random:
    """A random generator seeded from a stable hash of the parts (not Python's salted hash())."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return random.Random(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big"))


def _noun_phrase(rng: random.Random, bold: bool) -> list[str]:
    pieces = [" the"]
    if rng.random() < 0.5:
        pieces.append(" " + rng.choice(_ADJECTIVES))
    noun = rng.choice(_NOUNS)
    if bold:
        return [*pieces, " **", noun, "**"]
    return [*pieces, " " + noun]


def _sentence(rng: random.Random, first: bool) -> list[str]:
    """One sentence as pieces, starting with a space unless it opens the text."""
    pieces: list[str] = []
    if rng.random() < 0.35:
        opener = rng.choice(_OPENERS).split(" ")
        pieces += [opener[0]] + [" " + word for word in opener[1:]] + [","]
        pieces += _noun_phrase(rng, bold=rng.random() < 0.15)
    else:
        pieces += ["The", *_noun_phrase(rng, bold=rng.random() < 0.15)[1:]]
    pieces.append(" " + rng.choice(_VERBS))
    pieces += _noun_phrase(rng, bold=False)
    if rng.random() < 0.5:
        pieces.append(" " + rng.choice(_PREPOSITIONS))
        pieces += _noun_phrase(rng, bold=False)
    pieces.append(rng.choice([".", ".", ".", ".", ".", ".", ".", "!", "?"]))
    if not first:
        pieces[0] = " " + pieces[0]
    return pieces


def _bullets(rng: random.Random) -> list[str]:
    """A short markdown list, opened and closed by a blank line."""
    pieces: list[str] = [":"]
    for _ in range(rng.randint(2, 4)):
        pieces += ["\n", "-", " " + rng.choice(_ADJECTIVES).capitalize(), " " + rng.choice(_NOUNS)]
    pieces.append("\n\n")
    return pieces


def generate_pieces(rng: random.Random, count: int, *, markdown: bool = True) -> list[str]:
    """Exactly `count` pieces of plausible prose ending with a full stop."""
    if count <= 0:
        return []
    pieces: list[str] = []
    while len(pieces) < count - 1:
        start = not pieces or pieces[-1].endswith("\n")
        sentence = _sentence(rng, first=start)
        if markdown and rng.random() < 0.12:
            sentence = [*sentence[:-1], *_bullets(rng)]
        pieces += sentence
    pieces = pieces[: count - 1]
    if not pieces:
        return ["Done."]
    if pieces[-1] == " **" or pieces[-1].strip() in _DANGLING:
        pieces[-1] = " it"  # never end on "the." or an empty bold marker
    elif pieces[-1].strip() in {".", "!", "?", ",", ":", "-", ""}:
        # Close on a word so the text never ends in ".." or ",.".
        pieces[-1] = " indeed" if pieces[-1].strip() != "-" else " Indeed"
    open_bold = sum(piece.strip() == "**" for piece in pieces) % 2 == 1
    pieces.append("**." if open_bold else ".")
    return pieces


_STOPWORDS = frozenset(
    {
        "about",
        "also",
        "could",
        "does",
        "explain",
        "from",
        "have",
        "into",
        "know",
        "please",
        "should",
        "tell",
        "that",
        "their",
        "them",
        "there",
        "these",
        "they",
        "this",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "would",
        "your",
    }
)


def _is_topic_word(word: str) -> bool:
    return len(word) > 3 and word.lower() not in _STOPWORDS


def reasoning_pieces(rng: random.Random, count: int, topic: str) -> list[str]:
    """Exactly `count` pieces of thinking that mention a few words of the user's question."""
    if count <= 0:
        return []
    words = [w for w in re.findall(r"[A-Za-z][\w'-]*", topic) if _is_topic_word(w)][:4] or ["this"]
    opener = rng.choice(_REASONING_OPENERS).split(" ")
    head = [opener[0], *(" " + w for w in opener[1:]), *(" " + w.lower() for w in words), "."]
    body = generate_pieces(rng, max(count - len(head), 1), markdown=False)
    body[0] = " " + body[0]
    return (head + body)[:count]
