"""The history window sent with a chat request: count and token budget, merging rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aeries.history import (
    DEFAULT_CONTEXT,
    PER_MESSAGE_TOKENS,
    PER_PROMPT_TOKENS,
    context_budget,
    estimate_tokens,
    history_window,
    message_tokens,
)
from aeries.messages import Message
from aeries.sim import count_prompt_tokens
from aeries.text import MESSAGE_MAX_CHARS

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HUGE = ("lorem ipsum " * (MESSAGE_MAX_CHARS // 12 + 1))[:MESSAGE_MAX_CHARS]


def _m(role: str, content: str, i: int, *, loaded: bool = True) -> Message:
    return Message(str(i), "c", None, role, content, T0 + timedelta(seconds=i), loaded=loaded)


def _alternating(n: int, text: str = "m{i}") -> list[Message]:
    return [_m("user" if i % 2 == 0 else "assistant", text.format(i=i), i) for i in range(n)]


def _window(branch: list[Message], history: int = 20, context: int | None = 8192, **kw):
    return history_window(
        branch, history=history, max_model_len=context, max_tokens=kw.pop("max_tokens", 1024), **kw
    )


def test_huge_paste_is_left_out_of_later_requests_and_the_rest_fits():
    branch = [
        _m("user", "hello", 0),
        _m("assistant", "hi there", 1),
        _m("user", HUGE, 2),
        _m("assistant", "", 3),  # the context-length error: no text
        _m("user", "shorter question", 4),
    ]
    window = _window(branch)
    assert window.messages == [{"role": "user", "content": "shorter question"}]
    assert window.omitted == 3  # the paste and everything before it
    assert window.tokens <= window.budget
    # The window plus the system prompt fits the simulator's context and the answer's room.
    system = [{"role": "system", "content": "Be brief."}]
    assert count_prompt_tokens(system + window.messages) + 1024 <= 8192


def test_latest_user_message_is_sent_even_alone_over_budget():
    branch = [_m("user", "before", 0), _m("assistant", "ok", 1), _m("user", HUGE, 2)]
    window = _window(branch)
    assert window.messages == [{"role": "user", "content": HUGE}]
    assert window.omitted == 2
    assert window.over_budget


def test_messages_after_the_latest_user_message_are_kept():
    window = _window(_alternating(30), history=1)
    assert [m["content"] for m in window.messages] == ["m28", "m29"]


def test_count_bound_applies_to_merged_messages():
    window = _window(_alternating(30), history=20)
    assert len(window.messages) <= 20
    assert window.messages[0]["role"] == "user"
    assert window.messages[-1]["content"] == "m29"
    assert window.omitted == 30 - len(window.messages)


def test_token_bound_applies_before_the_count():
    text = "word " * 600  # ~1,000 estimated tokens each
    branch = _alternating(20, text + "{i}")
    window = _window(branch, history=20)
    budget = context_budget(8192, 1024)
    assert budget == 8192 - 1024 - PER_PROMPT_TOKENS
    assert window.tokens <= budget
    assert 2 <= len(window.messages) < 8  # far below the count of 20
    assert window.messages[0]["role"] == "user"
    assert window.messages[-1]["content"].endswith("19")
    assert window.omitted == 20 - len(window.messages)


def test_system_messages_and_answer_room_shrink_the_budget():
    system = [{"role": "system", "content": "x " * 1000}]
    assert context_budget(8192, 1024, system) == (
        8192 - 1024 - PER_PROMPT_TOKENS - message_tokens("x " * 1000)
    )
    # The answer's room is at most half the context, whatever max_tokens asks.
    assert context_budget(8192, 8000) == 8192 - 4096 - PER_PROMPT_TOKENS
    assert context_budget(8192, None) == 8192 - 4096 - PER_PROMPT_TOKENS
    small = _window(_alternating(40, "word " * 300 + "{i}"), system=system)
    large = _window(_alternating(40, "word " * 300 + "{i}"))
    assert len(small.messages) < len(large.messages)


def test_unknown_context_uses_a_conservative_default():
    assert context_budget(None, 1024) == context_budget(DEFAULT_CONTEXT, 1024)
    assert context_budget(0, 1024) == context_budget(DEFAULT_CONTEXT, 1024)
    branch = [_m("user", HUGE, 0), _m("assistant", "", 1), _m("user", "next", 2)]
    window = _window(branch, context=None)
    assert window.messages == [{"role": "user", "content": "next"}]
    assert window.budget == context_budget(DEFAULT_CONTEXT, 1024)


def test_larger_context_carries_more():
    branch = _alternating(20, "word " * 600 + "{i}")
    assert len(_window(branch, context=131072).messages) == 20  # all of them: count-bound
    assert len(_window(branch, context=4096).messages) < len(_window(branch).messages)


def test_failed_answers_dropped_and_same_role_merged():
    branch = [_m("user", "q1", 0), _m("assistant", "", 1), _m("user", "q2", 2)]
    window = _window(branch)
    assert window.messages == [{"role": "user", "content": "q1\n\nq2"}]
    assert window.omitted == 0  # an empty answer has nothing to leave out


def test_merged_neighbour_over_budget_is_cut_not_the_latest():
    branch = [_m("user", HUGE, 0), _m("user", "q2", 1)]
    assert _window(branch).messages == [{"role": "user", "content": "q2"}]


def test_window_never_starts_with_an_answer():
    branch = [
        _m("user", "word " * 5000, 0),
        _m("assistant", "short", 1),
        _m("user", "q", 2),
    ]
    window = _window(branch, context=4096)  # the long question does not fit
    assert window.messages == [{"role": "user", "content": "q"}]
    assert window.omitted == 2


def test_no_user_message_gives_an_empty_window():
    window = _window([_m("assistant", "hello", 0)])
    assert window.messages == [] and window.omitted == 1


def test_a_message_whose_text_is_not_loaded_ends_the_window():
    branch = _alternating(10)
    branch[4] = _m("user", "", 4, loaded=False)
    window = _window(branch)
    assert [m["content"] for m in window.messages] == ["m6", "m7", "m8", "m9"]
    assert window.omitted == 6


@pytest.mark.parametrize(
    "text",
    [
        "The quick brown fox jumps over the lazy dog. " * 50,
        "x " * 500,
        "a,b;c.d!" * 100,
        "def f(x):\n    return {k: v for k, v in x.items()}\n" * 20,
        "漢字かな交じり文の例です。" * 40,
        "한국어 문장입니다. " * 40,
        "emoji 👩🏽‍🔬🦉🎉 " * 40,
        "👍" * 300,
        "שלום עולם " * 50,
        "",
    ],
)
def test_estimate_is_conservative(text: str):
    size = len(text.encode())
    estimate = estimate_tokens(text)
    # At least one token per three UTF-8 bytes (a character count would undercount CJK by 3×
    # and emoji by 4×) and one per word or punctuation mark.
    assert estimate * 3 >= size
    assert estimate >= len(text.split())
    assert estimate >= len(text) // 3
    # Never below the simulator's count, so windows that fit here fit there.
    message = {"role": "user", "content": text}
    assert message_tokens(text) + PER_PROMPT_TOKENS >= count_prompt_tokens([message])
    if any("\u4e00" <= c <= "\u9fff" for c in text):
        assert estimate >= len(text.replace(" ", ""))  # a CJK character is at least a token
    assert message_tokens(text) == estimate + PER_MESSAGE_TOKENS


def test_estimate_of_a_huge_paste_is_quick_when_it_cannot_fit():
    import time

    start = time.perf_counter()
    assert estimate_tokens(HUGE, limit=1000) >= len(HUGE) // 3
    assert time.perf_counter() - start < 0.05
