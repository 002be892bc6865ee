"""What an answer is made of before any byte is sent: its tokens, where it ends, its steps.

- Tokens: what the model generates, in order. A thinking model opens with `<think>`, "\\n",
  its reasoning, "\\n", `</think>`, "\\n\\n" (Qwen3's shape), then the content, then the
  end-of-sequence token (EOS): a real output token, counted in usage, whose text is "".
- Ending: vLLM's `check_stop` on those tokens (EOS → "stop", the budget → "length", a
  `repetition_detection` match → "repetition"), then the fault that may cut the answer short.
- Steps: the engine outputs the stream sends. Token 0 goes alone, then one output per
  `stream_interval` tokens, and the last at the finish (vLLM's output processor). Each step's
  delta is what vLLM's chat layer builds from it: the raw text as `content` without a reasoning
  parser; with qwen3's, `<think>` and `</think>` send nothing, reasoning goes to `reasoning`,
  and what follows `</think>` passes through as `content`. None: the step sends no chunk.

A step is due at the schedule slot `at`: the time token `at` is generated (first token time +
`at` × ITL); an abort takes the slot after the last generated token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

THINK_START, THINK_END = "<think>", "</think>"
REPETITION_STOP_REASON = "repetition_detected"


@dataclass(frozen=True)
class Token:
    kind: str  # "think_start" | "think_end" | "reasoning" | "content" | "eos"
    text: str  # what the detokenizer yields for it ("" for the EOS)


EOS = Token("eos", "")


def compose(reasoning: Sequence[str] | None, content: Sequence[str]) -> list[Token]:
    """The tokens of an answer: the thinking block when `reasoning` is given, content, EOS."""
    tokens: list[Token] = []
    if reasoning is not None:
        tokens.append(Token("think_start", THINK_START))
        tokens += [Token("reasoning", text) for text in ["\n", *reasoning, "\n"]]
        tokens += [Token("think_end", THINK_END), Token("content", "\n\n")]
    tokens += [Token("content", text) for text in content]
    tokens.append(EOS)
    return tokens


@dataclass(frozen=True)
class Ending:
    """How the answer ends: after `end` generated tokens, with `kind`."""

    kind: str  # "finish", "abort", or a cut fault: "midstream_error" | "stall" | "drop"
    end: int
    finish_reason: str | None = None  # None when the answer never finishes
    stop_reason: str | None = None


def repeats(token_ids: Sequence[Any], params: dict[str, int]) -> bool:
    """vLLM's `check_sequence_repetition`: the tail repeats a pattern `min_count` times."""
    max_size = params.get("max_pattern_size", 0)
    min_size = max(params.get("min_pattern_size", 0), 1)
    min_count = params.get("min_count", 0)
    if max_size <= 0 or min_count < 2 or min_size > max_size:
        return False
    for size in range(min_size, max_size + 1):
        if size * min_count > len(token_ids):
            return False
        tail = list(token_ids[-size:])
        blocks = (
            token_ids[len(token_ids) - size * (m + 1) : len(token_ids) - size * m]
            for m in range(1, min_count)
        )
        if all(list(block) == tail for block in blocks):
            return True
    return False


def natural_ending(
    tokens: Sequence[Token], budget: int, repetition: dict[str, int] | None = None
) -> Ending:
    """Where generation stops by itself: `check_stop` after each token, in vLLM's order."""
    texts: list[Any] = []
    for index, token in enumerate(tokens):
        count = index + 1
        if token.kind == "eos":
            return Ending("finish", count, "stop")
        if count >= budget:
            return Ending("finish", count, "length")
        texts.append((token.kind, token.text))
        if repetition is not None and repeats(texts, repetition):
            return Ending("finish", count, "repetition", REPETITION_STOP_REASON)
    return Ending("finish", len(tokens), "length")


def content_start(tokens: Sequence[Token]) -> int:
    """Index of the first token after the thinking block (0 without one)."""
    for index, token in enumerate(tokens):
        if token.kind == "think_end":
            return index + 1
    return 0


def cut_ending(tokens: Sequence[Token], natural: Ending, fault: str, after: int) -> Ending:
    """The ending a cut fault (or the repetition fault) imposes after `after` content tokens."""
    visible = natural.end - (1 if natural.finish_reason == "stop" else 0)
    cut = min(content_start(tokens) + max(after, 0), visible)
    if fault == "repetition":
        if visible == 0:
            return natural
        return Ending("finish", max(cut, 1), "repetition", REPETITION_STOP_REASON)
    if fault == "server_abort":
        return Ending("abort", cut, "abort")
    return Ending(fault, cut)


@dataclass(frozen=True)
class Step:
    """One engine output: the chunk it becomes (`delta`; None sends nothing) and when."""

    at: int  # schedule slot
    tokens: int  # output tokens counted once this step is out (usage)
    reasoning_tokens: int  # of which the reasoning parser counted as reasoning
    delta: dict[str, str] | None
    finish_reason: str | None = None
    stop_reason: str | None = None


class _ChatLayer:
    """vLLM's `ChatStreamProcessor` with no parser or with qwen3's reasoning parser."""

    def __init__(self, parser: bool, reasoning_open: bool, include_reasoning: bool) -> None:
        self.parser = parser
        self.reasoning = parser and reasoning_open  # the parser's state: still in reasoning
        self.include_reasoning = include_reasoning
        self.count = 0
        self.reasoning_count = 0

    def step(self, group: Sequence[Token], finished: bool) -> dict[str, str] | None:
        had_output = self.count > 0
        self.count += len(group)
        if not group and not had_output:
            return {}  # finished without output: sent unparsed
        if not self.reasoning:
            return {"content": "".join(token.text for token in group)}
        reasoning: list[str] = []
        content: list[str] = []
        for token in group:
            if token.kind == "think_end":
                self.reasoning = False
            elif token.kind in ("think_start", "eos"):
                continue
            elif self.reasoning:
                reasoning.append(token.text)
                self.reasoning_count += 1
            else:
                content.append(token.text)
        delta: dict[str, str] = {}
        if "".join(content):
            delta["content"] = "".join(content)
        if "".join(reasoning) and self.include_reasoning:
            delta["reasoning"] = "".join(reasoning)
        if delta:
            return delta
        return {} if finished else None


def steps(
    tokens: Sequence[Token],
    ending: Ending,
    interval: int,
    *,
    parser: bool,
    reasoning_open: bool,
    include_reasoning: bool = True,
) -> list[Step]:
    """The engine outputs of an answer (see the module docstring)."""
    layer = _ChatLayer(parser, reasoning_open, include_reasoning)
    finishing = ending.kind == "finish"
    out: list[Step] = []
    sent = 0
    for index in range(ending.end):
        generated = index + 1
        finished = finishing and generated == ending.end
        if not (interval <= 1 or finished or sent == 0 or generated - sent >= interval):
            continue
        delta = layer.step(tokens[sent:generated], finished)
        sent = generated
        reason = ending.finish_reason if finished else None
        stop = ending.stop_reason if finished else None
        out.append(Step(index, layer.count, layer.reasoning_count, delta, reason, stop))
    if ending.kind == "abort":  # flushes what the interval held back, carries no token itself
        delta = layer.step(tokens[sent : ending.end], True)
        out.append(Step(ending.end, layer.count, layer.reasoning_count, delta, "abort"))
    return out


def texts(
    tokens: Sequence[Token], *, parser: bool, reasoning_open: bool, include_reasoning: bool = True
) -> tuple[str | None, str | None]:
    """(content, reasoning) of a non-streaming answer made of `tokens`."""
    if not parser:
        return "".join(token.text for token in tokens), None
    layer = _ChatLayer(parser, reasoning_open, include_reasoning=True)
    content: list[str] = []
    reasoning: list[str] = []
    for token in tokens:
        delta = layer.step([token], finished=False) or {}
        content.append(delta.get("content", ""))
        reasoning.append(delta.get("reasoning", ""))
    joined = "".join(reasoning) if include_reasoning else ""
    return "".join(content) or None, joined or None


def reasoning_count(tokens: Sequence[Token], *, parser: bool, reasoning_open: bool) -> int:
    """Output tokens the reasoning parser counts as reasoning."""
    layer = _ChatLayer(parser, reasoning_open, include_reasoning=True)
    for token in tokens:
        layer.step([token], finished=False)
    return layer.reasoning_count
