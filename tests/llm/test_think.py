"""Thinking inside content (a server without --reasoning-parser) becomes reasoning."""

from __future__ import annotations

import itertools

import pytest

from aeries.llm.think import ThinkSplitter

ANSWER = "<think>\nThe user greets me.\n</think>\n\nHello there!"


def split(deltas: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    parts = [part for delta in deltas for part in splitter.feed(delta)] + splitter.finish()
    reasoning = "".join(text for kind, text in parts if kind == "reasoning")
    content = "".join(text for kind, text in parts if kind == "content")
    return reasoning, content


def chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100])
def test_a_tagged_block_at_the_start_is_reasoning_however_it_is_chunked(size):
    assert split(chunks(ANSWER, size)) == ("\nThe user greets me.\n", "\n\nHello there!")


def test_every_split_point_of_the_tags_gives_the_same_parts():
    for cut_a, cut_b in itertools.combinations(range(1, len(ANSWER)), 2):
        deltas = [ANSWER[:cut_a], ANSWER[cut_a:cut_b], ANSWER[cut_b:]]
        assert split(deltas) == ("\nThe user greets me.\n", "\n\nHello there!")


def test_untagged_answers_and_later_tags_stay_content():
    assert split(["Hello", " <think>not thinking</think>"]) == (
        "",
        "Hello <think>not thinking</think>",
    )
    assert split(["<thin", "king about it"]) == ("", "<thinking about it")
    assert split(["  ", "\n", "Plain."]) == ("", "  \nPlain.")


def test_an_unclosed_block_stays_reasoning_and_nothing_is_lost():
    assert split(["<think>still ", "going </th"]) == ("still going </th", "")
